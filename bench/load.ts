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

/**
 * What to send: one method, body and headers, to paths taken in turn from a lane. wrk gives each of its threads
 * a lane of its own (so two threads never work on the same loan at once); autocannon, a single thread, goes
 * through the lanes one after the other.
 */
export interface LoadTarget {
  method: 'GET' | 'POST';
  lanes: string[][];
  body?: string;
  headers: Record<string, string>;
}

export interface LoadTool {
  name: string;
  run: (baseUrl: string, target: LoadTarget, seconds: number, connections: number) => Promise<LoadResult>;
}

/** Output of a command; the readers finish before the exit is awaited (PITFALLS: exited can come first). */
async function output(command: string[]): Promise<string> {
  const child = Bun.spawn(command, { stdout: 'pipe', stderr: 'inherit' });
  const text = await new Response(child.stdout).text();
  await child.exited;
  return text;
}

const milliseconds = (value: string, unit: string) =>
  Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit] ?? Number.NaN);

const WRK_THREADS = 2;

/** The Lua script that makes wrk send `target`: requests formatted once per thread, then cycled. */
function wrkScript(target: LoadTarget): string {
  const lua = (value: string) => JSON.stringify(value);
  const headers = Object.entries(target.headers)
    .map(([name, value]) => `wrk.headers[${lua(name)}] = ${lua(value)}`)
    .join('\n');
  const lanes = target.lanes.map((lane) => `{${lane.map(lua).join(',')}}`).join(',\n');
  return `wrk.method = ${lua(target.method)}
${target.body === undefined ? '' : `wrk.body = ${lua(target.body)}`}
${headers}
local lanes = {${lanes}}
local threads = 0
function setup(thread)
  thread:set("lane", threads % #lanes + 1)
  threads = threads + 1
end
function init(args)
  prepared = {}
  for i, path in ipairs(lanes[lane]) do prepared[i] = wrk.format(nil, path) end
  sent = 0
end
function request()
  sent = sent % #prepared + 1
  return prepared[sent]
end
`;
}

/** The two load generators the bench can drive. */
export const loadTools: Record<'wrk' | 'autocannon', LoadTool> = {
  wrk: {
    name: `wrk (${WRK_THREADS} threads)`,
    async run(baseUrl, target, seconds, connections) {
      const script = join(mkdtempSync(join(tmpdir(), 'bench-')), 'target.lua');
      writeFileSync(script, wrkScript(target));
      const text = await output([
        'wrk',
        `-t${WRK_THREADS}`,
        `-c${connections}`,
        `-d${seconds}s`,
        '--latency',
        '-s',
        script,
        baseUrl,
      ]);
      const percentile = (p: string) => {
        const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text);
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
    async run(baseUrl, target, seconds, connections) {
      const runner = new URL('./autocannon-runner.mjs', import.meta.url).pathname;
      // Under Node when it is installed, so the load generator is not the runtime being measured.
      const report = JSON.parse(
        await output([
          Bun.which('node') ?? 'bun',
          runner,
          JSON.stringify({ baseUrl, target, seconds, connections }),
        ]),
      );
      return {
        rps: report.requests.average,
        p50: report.latency.p50,
        p99: report.latency.p99,
        failures: report.errors + report.timeouts + report.non2xx,
      };
    },
  },
};

/** wrk when it is installed (Debian: apt-get install wrk), else autocannon; BENCH_TOOL overrides. */
export const chosenTool = (): LoadTool =>
  loadTools[(process.env.BENCH_TOOL ?? (Bun.which('wrk') ? 'wrk' : 'autocannon')) as keyof typeof loadTools];
