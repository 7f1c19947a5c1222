import { describe, expect, test } from 'bun:test';
import { runToExit } from './support/run';

const root = new URL('..', import.meta.url).pathname;

// A process that logs `count` lines through the service's logger, then exits as `exit` says.
const script = (count: number, exit: string) => `
  import { createLogger } from './src/logger';
  const logger = createLogger({ logLevel: 'info', logFormat: 'json', appEnv: 'test' });
  for (let i = 0; i < ${count}; i++) logger.info({ n: i }, 'line');
  ${exit}
`;

async function linesOf(count: number, exit: string) {
  const { code, stdout } = await runToExit(['bun', '--eval', script(count, exit)], { cwd: root });
  expect(code).toBe(0);
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).n);
}

const upTo = (count: number) => Array.from({ length: count }, (_, i) => i);

describe('log lines on stdout, written in batches', () => {
  test('are all written, in order, when the process exits at once after logging', async () => {
    expect(await linesOf(3, 'process.exit(0);')).toEqual(upTo(3));
  });

  test('are all written, in order, when one burst is many batches long', async () => {
    // About 70 bytes a line: some twenty batches of 64 KiB, and a remainder that waits for the timer.
    expect(await linesOf(20_000, '')).toEqual(upTo(20_000));
  });

  test('are all written when the process exits while the burst is still being written', async () => {
    expect(await linesOf(20_000, 'process.exit(0);')).toEqual(upTo(20_000));
  });
});
