import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { idempotencyKeys } from '../db/schema';
import { statement, type Transaction } from '../db/statement';
import { rawBodyOf } from './json-body';
import { Problem } from './problem';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
const KEY_SYNTAX = /^[!-~]{1,255}$/;
const RETENTION = sql`now() - interval '24 hours'`;
// A claim this old that never completed belongs to a process that died mid-request: the key is free again.
const ABANDONED = sql`now() - interval '60 seconds'`;
const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/** A response as the effect produced it, stored for replay with the effect, in its transaction. */
export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  /** What a replay shows instead of `body` (an API key's secret is shown once only). */
  replayBody?: unknown;
}

export interface Outcome extends StoredResponse {
  replayed: boolean;
}

export interface IdempotentRequest {
  actor: string;
  /** The Idempotency-Key header as sent, or null. */
  key: string | null;
  method: string;
  path: string;
  rawBody: string;
}

export type Idempotency = ReturnType<typeof createIdempotency>;

// Inside the effect's transaction, on its connection, prepared there once.
const complete = statement(
  'UPDATE idempotency_keys SET status = $3, body = $4, headers = $5::jsonb WHERE actor = $1 AND key = $2',
);

const fingerprintOf = ({ method, path, rawBody }: IdempotentRequest) =>
  new Bun.CryptoHasher('sha256').update(`${method}\n${path}\n`).update(rawBody).digest('hex');

/**
 * Runs a state change in one transaction, honouring an Idempotency-Key: the key is claimed before the effect
 * (visible at once to a concurrent retry), completed with the response inside the effect's transaction, and
 * released when the effect fails, so only a 2xx is ever replayed.
 */
export function createIdempotency(db: Database, now: () => number = Date.now) {
  // Expired records are also taken over lazily by claim(); the sweep keeps the table from growing.
  let lastSweep = now();
  const keyOf = (request: IdempotentRequest) =>
    and(eq(idempotencyKeys.actor, request.actor), eq(idempotencyKeys.key, request.key as string));

  async function claim(request: IdempotentRequest, fingerprint: string): Promise<Outcome | undefined> {
    for (;;) {
      const claimed = await db
        .insert(idempotencyKeys)
        .values({ actor: request.actor, key: request.key as string, fingerprint })
        .onConflictDoUpdate({
          target: [idempotencyKeys.actor, idempotencyKeys.key],
          set: { fingerprint, status: null, body: null, headers: null, createdAt: sql`now()` },
          setWhere: or(
            lt(idempotencyKeys.createdAt, RETENTION),
            and(isNull(idempotencyKeys.status), lt(idempotencyKeys.createdAt, ABANDONED)),
          ),
        })
        .returning({ actor: idempotencyKeys.actor });
      if (claimed.length > 0) return undefined;

      const [held] = await db.select().from(idempotencyKeys).where(keyOf(request));
      if (!held) continue; // released between the two statements: claim again
      if (held.fingerprint !== fingerprint) {
        throw new Problem(
          422,
          'This Idempotency-Key was used with a different request (method, path or body).',
          {
            kind: { slug: 'idempotency-key-reused', title: 'Idempotency key reused' },
          },
        );
      }
      if (held.status === null) {
        throw new Problem(409, 'A request with this Idempotency-Key is still in progress; retry shortly.', {
          kind: { slug: 'idempotency-key-in-flight', title: 'Idempotency key in flight' },
          headers: { 'retry-after': '1' },
        });
      }
      return {
        status: held.status,
        body: JSON.parse(held.body ?? 'null'),
        headers: held.headers ?? {},
        replayed: true,
      };
    }
  }

  return {
    async run(
      request: IdempotentRequest,
      effect: (tx: Transaction) => Promise<StoredResponse>,
    ): Promise<Outcome> {
      if (request.key === null) {
        return { ...(await db.transaction(effect)), replayed: false };
      }
      if (!KEY_SYNTAX.test(request.key)) {
        throw new Problem(400, 'Idempotency-Key must be 1 to 255 printable ASCII characters (! to ~).', {
          errors: [{ path: '/headers/idempotency-key', message: 'Idempotency-Key is not valid' }],
        });
      }
      if (now() - lastSweep > SWEEP_INTERVAL_MS) {
        lastSweep = now();
        void this.sweep().catch(() => {});
      }
      const fingerprint = fingerprintOf(request);
      const replay = await claim(request, fingerprint);
      if (replay) return replay;
      try {
        const response = await db.transaction(async (tx) => {
          const produced = await effect(tx);
          await complete(
            tx,
            request.actor,
            request.key,
            produced.status,
            JSON.stringify(produced.replayBody ?? produced.body),
            JSON.stringify(produced.headers),
          );
          return produced;
        });
        return { ...response, replayed: false };
      } catch (error) {
        await db
          .delete(idempotencyKeys)
          .where(and(keyOf(request), isNull(idempotencyKeys.status)))
          .catch(() => {});
        throw error;
      }
    },

    /** Deletes the records past their 24 hours; returns how many. */
    async sweep(): Promise<number> {
      const swept = await db
        .delete(idempotencyKeys)
        .where(lt(idempotencyKeys.createdAt, RETENTION))
        .returning({ actor: idempotencyKeys.actor });
      return swept.length;
    },
  };
}

/**
 * What of a request an idempotent write needs. Routes pass these by name: a handler that takes Elysia's whole
 * context makes Elysia prepare all of it (cookies, query, a header object) on every request.
 */
export interface WriteContext {
  request: Request;
  path: string;
  set: { headers: Record<string, unknown> };
  principal: { actor: string };
}

/**
 * Runs a route's write under its Idempotency-Key and puts what it produced (or what it produced the first
 * time) on the response: the headers here, the status and body for the route to return.
 */
export async function writeIdempotently(
  idempotency: Idempotency,
  { request, path, set, principal }: WriteContext,
  effect: (tx: Transaction) => Promise<StoredResponse>,
): Promise<Outcome> {
  const outcome = await idempotency.run(
    {
      actor: principal.actor,
      key: request.headers.get(IDEMPOTENCY_KEY_HEADER),
      method: request.method,
      path,
      rawBody: rawBodyOf(request),
    },
    effect,
  );
  Object.assign(set.headers, outcome.headers);
  if (outcome.replayed) set.headers['idempotent-replayed'] = 'true';
  return outcome;
}
