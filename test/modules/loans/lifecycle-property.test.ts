import { expect, test } from 'bun:test';
import fc from 'fast-check';
import type { LoanStatus } from '../../../src/db/schema';
import { type CommandName, commandNames, transitions } from '../../../src/modules/loans/lifecycle';
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

const actions: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(...commandNames).map((name) => ({ kind: 'command', name }) as const),
  },
  { weight: 1, arbitrary: fc.boolean().map((whole) => ({ kind: 'repay', whole }) as const) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 5, max: 7 }).map((termMonths) => ({ kind: 'amend', termMonths }) as const),
  },
);

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
    fc.asyncProperty(fc.array(actions, { minLength: 1, maxLength: 10 }), async (sequence) => {
      const loan = await createLoan(t);
      let model: Model = {
        status: 'pending',
        version: 1,
        events: 1,
        termMonths: lendableLoan.term_months,
        repaid: false,
      };
      for (const action of sequence) {
        const { status, next } = expected(model, action);
        const response = await perform(loan.id, model, action);
        expect(response.status).toBe(status);
        await response.arrayBuffer();
        model = next;
        const seen = await snapshot(t, loan.id);
        expect({
          status: JSON.parse(seen.text).status,
          version: versionOf(seen.etag),
          events: seen.events,
        }).toEqual({ status: model.status, version: model.version, events: model.events });
      }
    }),
    { numRuns: 30 },
  );
});
