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
 * The same text in one piece. JavaScriptCore keeps a string built by concatenation (template literals, Drizzle's
 * SQL chunks) as a tree of its parts, and postgres.js prefixes every query's text with its parameter types to find
 * the prepared statement: joining that walked the whole tree again on every query, some 22,000 instructions of a
 * command's 300,000 (counted with callgrind). A copy is flat.
 */
const flatCopy = (text: string) => Buffer.from(text).toString();

/**
 * SQL whose text is fixed once, run with its parameters on the pool or on a transaction's own connection. A query
 * Drizzle prepares belongs to the connection it was built on (the pool, never a transaction's), building one per
 * call costs more CPU than the database spends on it, and Drizzle maps every row it returns: here postgres.js
 * prepares the text once per connection and hands back the rows as they are.
 */
export function statement<Row>(composed: string) {
  const text = flatCopy(composed);
  return async (runner: Database | Transaction, ...params: unknown[]): Promise<Row[]> => {
    // Drizzle keeps the driver's client (the pool's, or the transaction's) on its session.
    const client = (runner as unknown as { session: { client: DriverClient } }).session.client;
    if ('unsafe' in client) return (await client.unsafe(text, params, { prepare: true })) as Row[];
    return (await client.query(text, params, pgliteOptions)).rows as Row[];
  };
}
