import { describe, expect, test } from 'bun:test';
import { sharedReads } from '../src/shared-reads';

/** A read whose runs end only when the test says so; each run answers the value `source` holds when it starts. */
function controlledRead(source: { value: number }) {
  const runs: { key: string; finish: () => void; fail: (error: Error) => void }[] = [];
  const read = (key: string) =>
    new Promise<number>((resolve, reject) => {
      const value = source.value;
      runs.push({ key, finish: () => resolve(value), fail: reject });
    });
  return { read, runs };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('sharedReads', () => {
  test('the first call runs at once, and the calls made meanwhile, however many, share one more run', async () => {
    const { read, runs } = controlledRead({ value: 1 });
    const shared = sharedReads(read);
    const first = shared('2026-12-02');
    const meanwhile = Promise.all(Array.from({ length: 20 }, () => shared('2026-12-02')));
    expect(runs).toHaveLength(1);
    runs[0]?.finish();
    expect(await first).toBe(1);
    await settle();
    expect(runs).toHaveLength(2);
    runs[1]?.finish();
    expect(await meanwhile).toEqual(Array(20).fill(1));
  });

  test('a call made while a run is under way gets the next run, which sees what changed before it', async () => {
    const source = { value: 1 };
    const { read, runs } = controlledRead(source);
    const shared = sharedReads(read);
    const first = shared('today');
    source.value = 2; // a write committed after the first run began and before the later calls
    const later = Promise.all([shared('today'), shared('today')]);
    expect(runs).toHaveLength(1);
    runs[0]?.finish();
    expect(await first).toBe(1);
    await settle();
    expect(runs).toHaveLength(2);
    runs[1]?.finish();
    expect(await later).toEqual([2, 2]);
  });

  test('never has more than one run of a key in flight', async () => {
    const { read, runs } = controlledRead({ value: 1 });
    const shared = sharedReads(read);
    const calls = [shared('k')];
    for (let wave = 0; wave < 3; wave++) {
      calls.push(shared('k'), shared('k'));
      expect(runs.length).toBe(wave + 1);
      runs[wave]?.finish();
      await settle();
    }
    runs[3]?.finish();
    await Promise.all(calls);
    expect(runs).toHaveLength(4);
  });

  test('keys do not share', async () => {
    const { read, runs } = controlledRead({ value: 1 });
    const shared = sharedReads(read);
    const answers = Promise.all([shared('2026-12-01'), shared('2026-12-02')]);
    expect(runs.map((run) => run.key)).toEqual(['2026-12-01', '2026-12-02']);
    for (const run of runs) run.finish();
    await answers;
  });

  test('a failed run fails its callers only, and the callers waiting behind it get a run of their own', async () => {
    const { read, runs } = controlledRead({ value: 7 });
    const shared = sharedReads(read);
    const failing = shared('k');
    const waiting = shared('k');
    runs[0]?.fail(new Error('database gone'));
    await expect(failing).rejects.toThrow('database gone');
    await settle();
    runs[1]?.finish();
    expect(await waiting).toBe(7);
    const afterwards = shared('k');
    expect(runs).toHaveLength(3);
    runs[2]?.finish();
    expect(await afterwards).toBe(7);
  });
});
