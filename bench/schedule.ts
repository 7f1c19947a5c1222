/**
 * The schedule rules in-process, no server and no database: the median time to build one 360-month schedule
 * (50000.00 at 8.00 %: the largest amount and the longest term, at a rate the rule accepts for them) and the
 * view of it, a third repaid. Not a test: nothing here passes or fails.
 *
 * BENCH_RUNS (2000): timed runs of each, after 200 untimed ones to let the JIT settle.
 */
import {
  allocate,
  applyAllocation,
  buildSchedule,
  type InstalmentRecord,
  scheduleView,
  unpaid,
} from '../src/modules/loans/schedule';

const runs = Number(process.env.BENCH_RUNS ?? 2000);
const WARM_UP = 200;

function medianMicros(work: () => unknown): number {
  for (let run = 0; run < WARM_UP; run++) work();
  const micros: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = Bun.nanoseconds();
    work();
    micros.push((Bun.nanoseconds() - start) / 1000);
  }
  micros.sort((a, b) => a - b);
  return micros[Math.floor(micros.length / 2)] as number;
}

const input = {
  principal: '50000.00',
  aprPercent: '8.00',
  termMonths: 360,
  minorUnits: 2,
  firstPeriodStart: '2026-01-31',
} as const;

const schedule = buildSchedule(input);
const thirdRepaid = allocate(unpaid(schedule.instalments), '44000.00');
if (!('parts' in thirdRepaid)) throw new Error(thirdRepaid.refusal);
const instalments: InstalmentRecord[] = applyAllocation(unpaid(schedule.instalments), thirdRepaid.parts);

const build = medianMicros(() => buildSchedule(input));
const view = medianMicros(() => scheduleView(instalments, '2036-03-15'));
const serialised = medianMicros(() => JSON.stringify(scheduleView(instalments, '2036-03-15')));

console.log(`schedule rules, 360 months, median of ${runs} runs (Bun ${Bun.version}):`);
console.log(`  buildSchedule            ${build.toFixed(1)} µs`);
console.log(`  scheduleView             ${view.toFixed(1)} µs`);
console.log(`  scheduleView + JSON      ${serialised.toFixed(1)} µs`);
