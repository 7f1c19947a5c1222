import { test } from 'bun:test';
import fc from 'fast-check';
import type { LoanStatus } from '../../../src/db/schema';
import {
  type CommandName,
  commandNames,
  commandsFrom,
  transitions,
} from '../../../src/modules/loans/lifecycle';
import type { LoanSchedule } from '../../../src/modules/loans/model';
import { useTestApp } from '../../support/app';
import { command, createLoan, lendableLoan, snapshot, versionOf } from '../../support/lifecycle';

const t = useTestApp();

/** What the API should show of the loan: derived from the transition table and the contract's extra rules. */
interface Model {
  status: LoanStatus;
  version: number;
  events: number;
  termMonths: number;
  repaid: boolean;
}

type Action =
  | { kind: 'command'; name: CommandName }
  | { kind: 'repay'; whole: boolean }
  | { kind: 'amend'; termMonths: number };

const everyAction = (termMonths: number, whole: boolean): Action[] => [
  ...commandNames.map((name) => ({ kind: 'command', name }) as const),
  { kind: 'repay', whole },
  { kind: 'amend', termMonths },
];

/**
 * A step: mostly one of the actions the model allows (so sequences reach deep states such as "disbursed with a
 * repayment"), else one it refuses.
 */
const steps = fc.record({
  legal: fc.oneof({ weight: 2, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  // Unbiased: fast-check's small-value bias would keep choosing the first allowed action.
  pick: fc.noBias(fc.nat({ max: 2 ** 20 })),
  whole: fc.boolean(),
  termMonths: fc.integer({ min: 5, max: 7 }),
});

type Step = typeof steps extends fc.Arbitrary<infer T> ? T : never;

function actionFor(model: Model, step: Step): Action {
  const all = everyAction(step.termMonths, step.whole);
  const allowed = all.filter((action) => expected(model, action).status < 300);
  const refused = all.filter((action) => !allowed.includes(action));
  if ((!step.legal || allowed.length === 0) && refused.length > 0) {
    // Half the refused moves are near misses when there are any: the table allows them from this status, but
    // another rule (undo-disbursal after a repayment) refuses them.
    const nearMisses = refused.filter(
      (action) => action.kind === 'command' && transitions[action.name].from === model.status,
    );
    const pool = nearMisses.length > 0 && step.pick % 2 === 0 ? nearMisses : refused;
    return pool[Math.floor(step.pick / 2) % pool.length] as Action;
  }
  // Moves into a status that allows no command end the walk: they get one chance in four of the others'.
  const open = (action: Action) => commandsFrom(expected(model, action).next.status).length > 0;
  const choices = allowed.flatMap((action) => (open(action) ? [action, action, action, action] : [action]));
  return choices[step.pick % choices.length] as Action;
}

/** The status code the model expects, and the model after the action. */
function expected(model: Model, action: Action): { status: number; next: Model } {
  const changed = (next: Partial<Model>, steps = 1) => ({
    ...model,
    ...next,
    version: model.version + steps,
    events: model.events + steps,
  });
  if (action.kind === 'command') {
    const { from, to } = transitions[action.name];
    // Undo-disbursal is refused once anything has been repaid.
    if (model.status !== from || (action.name === 'undo-disbursal' && model.repaid)) {
      return { status: 409, next: model };
    }
    return { status: 200, next: changed({ status: to }) };
  }
  if (action.kind === 'repay') {
    if (model.status !== 'disbursed') return { status: 409, next: model };
    // Paying everything adds the repayment and the repaid event.
    return action.whole
      ? { status: 201, next: changed({ status: 'repaid', repaid: true }, 2) }
      : { status: 201, next: changed({ repaid: true }) };
  }
  if (model.status !== 'pending') return { status: 409, next: model };
  if (action.termMonths === model.termMonths) return { status: 200, next: model };
  return { status: 200, next: changed({ termMonths: action.termMonths }) };
}

async function perform(id: string, model: Model, action: Action): Promise<Response> {
  if (action.kind === 'command') return command(t, id, action.name);
  if (action.kind === 'amend') {
    return t.req(`/api/loans/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ term_months: action.termMonths }),
    });
  }
  let amount = '10.00';
  if (action.whole && model.status === 'disbursed') {
    const schedule = (await (await t.req(`/api/loans/${id}/schedule`)).json()) as LoanSchedule;
    amount = schedule.totals.outstanding;
  }
  return t.post(`/api/loans/${id}/repayments`, { amount });
}

test('random sequences of commands, repayments and amendments keep the loan equal to the model', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(steps, { minLength: 1, maxLength: 12, size: 'max' }), async (sequence) => {
      const loan = await createLoan(t);
      let model: Model = {
        status: 'pending',
        version: 1,
        events: 1,
        termMonths: lendableLoan.term_months,
        repaid: false,
      };
      const trail: Action[] = [];
      for (const step of sequence) {
        const action = actionFor(model, step);
        trail.push(action);
        const { status, next } = expected(model, action);
        const response = await perform(loan.id, model, action);
        const answered = response.status;
        await response.arrayBuffer();
        model = next;
        const seen = await snapshot(t, loan.id);
        const actual = {
          answered,
          status: JSON.parse(seen.text).status,
          version: versionOf(seen.etag),
          events: seen.events,
        };
        const wanted = {
          answered: status,
          status: model.status,
          version: model.version,
          events: model.events,
        };
        if (!Bun.deepEquals(actual, wanted)) {
          throw new Error(
            `after ${JSON.stringify(trail)}: the API shows ${JSON.stringify(actual)}, the model ${JSON.stringify(wanted)}`,
          );
        }
      }
    }),
    { numRuns: 50 },
  );
  // Hundreds of requests; set here because Bun applies the preload's default timeout to the first file only.
}, 120_000);
