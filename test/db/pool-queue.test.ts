import { heapStats } from 'bun:jsc';
import { describe, expect, test } from 'bun:test';

interface Queue<T> {
  readonly length: number;
  push(x: T): T;
  shift(): T;
  remove(x: T): T | null;
}

// postgres.js keeps its connections in these queues; patches/postgres@3.4.9.patch is what this file checks.
const { default: createQueue } = (await import(
  new URL('../../node_modules/postgres/src/queue.js', import.meta.url).href
)) as { default: <T>(initial?: T[]) => Queue<T> };

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, n) => from + n);

describe("postgres.js's connection queue (patched)", () => {
  test('a queue that never drains stays small: what a saturated pool does on every query', () => {
    // All connections busy: the pool takes the next one off the busy queue for a pipelined query, tries to
    // remove it from the queue it was on, and pushes it back. Unpatched, every taken slot stayed in the array and
    // each remove scanned them all: 200,000 queries left 200,000 slots (2.4 MB) and 4 s of scanning.
    const connections = Array.from({ length: 10 }, (_, n) => ({ n }));
    const busy = createQueue(connections);
    Bun.gc(true);
    const before = heapStats().heapSize;
    for (let query = 0; query < 200_000; query++) {
      const connection = busy.shift();
      busy.remove(connection);
      busy.push(connection);
    }
    Bun.gc(true);
    expect(heapStats().heapSize - before).toBeLessThan(512 * 1024);
    expect(busy.length).toBe(10);
  });

  test('shift and remove keep first-in first-out order across the compaction', () => {
    const queue = createQueue<number>();
    for (let n = 0; n < 200; n++) queue.push(n);
    const taken = Array.from({ length: 150 }, () => queue.shift());
    expect(taken).toEqual(range(0, 150));
    expect(queue.remove(10)).toBeNull();
    expect(queue.remove(160)).toBe(160);
    expect(queue.length).toBe(49);
    const rest = Array.from({ length: 49 }, () => queue.shift());
    expect(rest).toEqual([150, 151, 152, 153, 154, 155, 156, 157, 158, 159, ...range(161, 200)]);
    expect(queue.length).toBe(0);
  });
});
