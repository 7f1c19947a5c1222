import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  /** Socket errors, timeouts and non-2xx answers. */
  failures: number;
}

async function output(command: string[]): Promise<string> {
  const child = Bun.spawn(command, { stdout: 'pipe', stderr: 'ignore' });
  const text = await new Response(child.stdout).text();
  await child.exited;
  return text;
}

const milliseconds = (value: string, unit: string) =>
  Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? 1);

export interface LoadTool {
  name: string;
  /** GETs `url`, or POSTs `body` as JSON to it, for `seconds` over `connections` connections. */
  run: (url: string, body: string | undefined, seconds: number, connections: number) => Promise<LoadResult>;
}

/** The two load generators the bench can drive. */
export const loadTools: Record<'wrk' | 'autocannon', LoadTool> = {
  wrk: {
    name: 'wrk',
    async run(url, body, seconds, connections) {
      const args = ['wrk', '-t2', `-c${connections}`, `-d${seconds}s`, '--latency'];
      if (body) {
        const script = join(mkdtempSync(join(tmpdir(), 'bench-')), 'post.lua');
        writeFileSync(
          script,
          `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`,
        );
        args.push('-s', script);
      }
      const text = await output([...args, url]);
      const percentile = (p: string) => {
        const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(text);
        return match ? milliseconds(match[1] as string, match[2] as string) : Number.NaN;
      };
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
      return {
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]),
        p50: percentile('50'),
        p99: percentile('99'),
        failures:
          Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0) +
          (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
      };
    },
  },
  autocannon: {
    name: 'autocannon',
    async run(url, body, seconds, connections) {
      const cli = new URL('../node_modules/autocannon/autocannon.js', import.meta.url).pathname;
      const args = ['-c', String(connections), '-d', String(seconds), '-j'];
      if (body) args.push('-m', 'POST', '-H', 'content-type=application/json', '-b', body);
      // Under Node when it is installed, so the load generator is not the runtime being measured.
      const report = JSON.parse(await output([Bun.which('node') ?? 'bun', cli, ...args, url]));
      return {
        rps: report.requests.average,
        p50: report.latency.p50,
        p99: report.latency.p99,
        failures: report.errors + report.timeouts + report.non2xx,
      };
    },
  },
};
