import { describe, expect, test } from 'bun:test';
import type { CommandName } from '../../../src/modules/loans/lifecycle';
import { bearer, devKeys, useListeningTestApp } from '../../support/app';
import { command, commandBody, eventsOf, loanIn, snapshot, versionOf } from '../../support/lifecycle';

// On Postgres the requests go to a listening server, so they run on different pool connections at once; on PGlite
// (one connection) the same requests are concurrent in the process and meet in its queue.
const t = useListeningTestApp();
const CONTENDERS = 20;
// Each race is many requests at once on a busy machine; Bun gives the preload's 30 s to the first file only.
const RACE_TIMEOUT_MS = 30_000;

/** The same command sent `CONTENDERS` times at once over HTTP, each with the given headers. */
function race(id: string, name: CommandName, headers: (i: number) => Record<string, string> = () => ({})) {
  return Promise.all(
    Array.from({ length: CONTENDERS }, (_, i) =>
      fetch(`${t.url}/api/loans/${id}/${name}`, {
        method: 'POST',
        headers: { ...bearer(devKeys.officer), 'content-type': 'application/json', ...headers(i) },
        body: JSON.stringify(commandBody(name)),
      }),
    ),
  );
}

async function statusesOf(responses: Response[]) {
  const counts: Record<number, number> = {};
  for (const response of responses) {
    counts[response.status] = (counts[response.status] ?? 0) + 1;
    if (response.status !== 200) {
      const problem = (await response.json()) as { type: string };
      expect(problem.type).toMatch(/\/problems\/(invalid-transition|precondition-failed)$/);
    } else await response.arrayBuffer();
  }
  return counts;
}

describe(`${CONTENDERS} concurrent commands on one loan`, () => {
  test(
    'approve: exactly one 200, the rest 409, exactly one approved event',
    async () => {
      const id = await loanIn(t, 'pending');
      const responses = await race(id, 'approve');
      const counts = await statusesOf(responses);
      expect(counts[200]).toBe(1);
      expect((counts[409] ?? 0) + (counts[412] ?? 0)).toBe(CONTENDERS - 1);
      const events = await eventsOf(t, id);
      expect(events.filter((event) => event.type === 'approved')).toHaveLength(1);
      const after = await snapshot(t, id);
      expect(versionOf(after.etag)).toBe(2);
      expect(JSON.parse(after.text).status).toBe('approved');
    },
    RACE_TIMEOUT_MS,
  );

  test(
    'approve with If-Match of the version all of them read: one 200, the rest 409 or 412',
    async () => {
      const id = await loanIn(t, 'pending');
      const { etag } = await snapshot(t, id);
      const counts = await statusesOf(await race(id, 'approve', () => ({ 'if-match': etag as string })));
      expect(counts[200]).toBe(1);
      expect((counts[409] ?? 0) + (counts[412] ?? 0)).toBe(CONTENDERS - 1);
      expect((await eventsOf(t, id)).filter((event) => event.type === 'approved')).toHaveLength(1);
    },
    RACE_TIMEOUT_MS,
  );

  test(
    'disburse and undo-approval racing from approved: one wins, one event, the loan is what it says',
    async () => {
      const id = await loanIn(t, 'approved');
      const [disbursals, undos] = await Promise.all([race(id, 'disburse'), race(id, 'undo-approval')]);
      const winners = [...disbursals, ...undos].filter((response) => response.status === 200);
      expect(winners).toHaveLength(1);
      await statusesOf([...disbursals, ...undos]);
      const events = await eventsOf(t, id);
      expect(events.map((event) => event.type)).toHaveLength(3);
      const last = events.at(-1);
      expect(['disbursed', 'approval_undone']).toContain(last?.type as string);
      expect(JSON.parse((await snapshot(t, id)).text).status).toBe(last?.to_status);
    },
    RACE_TIMEOUT_MS,
  );

  test(
    'concurrent approves each with its own Idempotency-Key: still exactly one wins',
    async () => {
      const id = await loanIn(t, 'pending');
      const counts = await statusesOf(
        await race(id, 'approve', (i) => ({ 'idempotency-key': `race-${id}-${i}` })),
      );
      expect(counts[200]).toBe(1);
      expect(counts[409]).toBe(CONTENDERS - 1);
    },
    RACE_TIMEOUT_MS,
  );
});

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);

describe('concurrent repayments on one loan', () => {
  // Each date has its own amount, so the audit trail (in the order the loan's lock was taken: event ids come from a
  // sequence, drawn under the lock) tells the dates in the order they were checked. created_at cannot: it is
  // when each transaction began, before it waited for the lock.
  const paidOnOf: Record<string, string> = { '1.00': daysAgo(4), '2.00': daysAgo(3) };

  /** `CONTENDERS` repayments at once, half dated a day before the others; the dates accepted, in lock order. */
  async function raceRepayments(): Promise<string[]> {
    const id = await loanIn(t, 'approved');
    expect((await command(t, id, 'disburse', { disbursed_on: daysAgo(10) })).status).toBe(200);
    const responses = await Promise.all(
      Array.from({ length: CONTENDERS }, (_, i) => {
        const amount = i % 2 === 0 ? '2.00' : '1.00';
        return fetch(`${t.url}/api/loans/${id}/repayments`, {
          method: 'POST',
          headers: { ...bearer(devKeys.officer2), 'content-type': 'application/json' },
          body: JSON.stringify({ amount, paid_on: paidOnOf[amount] }),
        });
      }),
    );
    let accepted = 0;
    for (const response of responses) {
      const body = await response.text();
      if (response.status === 201) accepted++;
      else expect(body).toContain('paid_on must not be before the latest repayment');
    }
    const repayments = (await eventsOf(t, id)).filter((event) => event.type === 'repayment');
    expect(repayments).toHaveLength(accepted);
    return repayments.map((event) => paidOnOf[event.amount as string] as string);
  }

  test(
    'some back-dated: each is checked against the repayment committed before it, so dates never go backwards',
    async () => {
      // A race shows a stale read only sometimes: several of them make a miss unlikely.
      for (let round = 0; round < 5; round++) {
        const dates = await raceRepayments();
        expect(dates).toEqual([...dates].sort());
      }
    },
    RACE_TIMEOUT_MS,
  );
});
