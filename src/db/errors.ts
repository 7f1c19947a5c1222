// Socket-level failures of postgres.js, and SQLSTATEs that mean the server is not there to answer.
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

// The server is there but gave up on the statement: the pool's statement_timeout or lock_timeout fired.
const BUSY_CODES = new Set([
  '57014', // query_canceled
  '55P03', // lock_not_available
]);

/** The error and every error it wraps (Drizzle wraps driver errors in DrizzleQueryError), outermost first. */
function* causes(error: unknown): Generator<Error> {
  for (let current = error; current instanceof Error; current = current.cause) yield current;
}

const codeOf = (error: Error): string | undefined => {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
};

const hasCode = (error: unknown, matches: (code: string) => boolean) =>
  [...causes(error)].some((current) => {
    const code = codeOf(current);
    return code !== undefined && matches(code);
  });

/** True when the error, or one it wraps, says the database cannot be reached. */
export const isDatabaseUnavailable = (error: unknown): boolean =>
  hasCode(error, (code) => CONNECTION_CODES.has(code) || code.startsWith('08'));

/** True when the error, or one it wraps, carries this SQLSTATE. */
export const hasSqlstate = (error: unknown, sqlstate: string): boolean =>
  hasCode(error, (code) => code === sqlstate);

/** True when the database is reachable but timed a statement out, or could not get a lock in time. */
export const isDatabaseBusy = (error: unknown): boolean => hasCode(error, (code) => BUSY_CODES.has(code));

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** What a log line may say about an error: names and codes only. */
export interface ErrorSummary {
  /** Class names, outermost first; an error from the database server is `DatabaseError`, whatever the driver. */
  chain: string[];
  sqlstate?: string;
  constraint?: string;
  table?: string;
  column?: string;
  /** The Postgres function that raised it (`ExecConstraints`). */
  routine?: string;
  /** The innermost frame of the service's own code, `src/…:line:column`, when the stack has one. */
  at?: string;
}

// postgres.js and PGlite name the same server fields differently.
const field = (error: Error, ...names: string[]): string | undefined => {
  for (const name of names) {
    const value = (error as unknown as Record<string, unknown>)[name];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
};

/**
 * An error reduced to what is safe to log. Never the message: a driver's message carries the SQL and its
 * parameters (DrizzleQueryError: "Failed query: … params: …"), a server's may quote the value it refused, and the
 * detail ("Failing row contains …") holds the row. Nor the stack beyond one frame of our own code.
 */
export function summarizeError(error: unknown): ErrorSummary {
  const chain: string[] = [];
  let server: Error | undefined;
  for (const current of causes(error)) {
    const fromServer = SQLSTATE.test(codeOf(current) ?? '') && field(current, 'severity') !== undefined;
    if (fromServer) server ??= current;
    chain.push(fromServer ? 'DatabaseError' : current.constructor.name);
  }
  if (chain.length === 0) chain.push(error === null ? 'null' : typeof error);
  // Fields left undefined are dropped from the JSON line.
  return {
    chain,
    sqlstate: server && codeOf(server),
    constraint: server && field(server, 'constraint_name', 'constraint'),
    table: server && field(server, 'table_name', 'table'),
    column: server && field(server, 'column_name', 'column'),
    routine: server && field(server, 'routine'),
    at: error instanceof Error ? ownFrame(error.stack) : undefined,
  };
}

const OWN_FRAME = /\/(src\/[^\s:()]+:\d+:\d+)/;

const ownFrame = (stack: string | undefined): string | undefined =>
  stack
    ?.split('\n')
    .filter((line) => !line.includes('node_modules'))
    .map((line) => OWN_FRAME.exec(line)?.[1])
    .find(Boolean);
