import { type SQLWrapper, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Database } from './client';

export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

type DriverClient =
  | { unsafe(text: string, params: unknown[], options: { prepare: boolean }): Promise<unknown[]> }
  | { query(text: string, params: unknown[], options: object): Promise<{ rows: unknown[] }> };

// As Drizzle's own sessions read them: dates, timestamps and numerics arrive as the text Postgres sent.
const asText = (value: string) => value;
const pgliteOptions = { parsers: { 1082: asText, 1114: asText, 1184: asText, 1700: asText } };

const dialect = new PgDialect();

/** `expression AS "name", …` for a Drizzle selection, so rows come back keyed as the selection names them. */
export function selectList(columns: Record<string, SQLWrapper>): string {
  const aliased = Object.entries(columns).map(([name, column]) => sql`${column} AS ${sql.identifier(name)}`);
  return dialect.sqlToQuery(sql.join(aliased, sql`, `)).sql;
}

/**
 * SQL whose text is fixed once, run with its parameters on the transaction's own connection. A query Drizzle
 * prepares belongs to the connection it was built on (the pool, never a transaction's), and building one per call
 * costs more CPU than the database spends on it: here postgres.js prepares the text once per connection and
 * nothing maps the rows.
 */
export function statement<Row>(text: string) {
  return async (tx: Transaction, ...params: unknown[]): Promise<Row[]> => {
    // Drizzle keeps the driver's transaction client on the session it hands the callback.
    const client = (tx as unknown as { session: { client: DriverClient } }).session.client;
    if ('unsafe' in client) return (await client.unsafe(text, params, { prepare: true })) as Row[];
    return (await client.query(text, params, pgliteOptions)).rows as Row[];
  };
}
