import { Elysia } from 'elysia';
import { Problem } from './problem';

export const MAX_BODY_BYTES = 64 * 1024;
/** Bun's own limit, above the app's, so the app answers 413 as problem+json and Bun stops anything larger. */
export const SERVER_MAX_BODY_BYTES = MAX_BODY_BYTES * 2;

const isJson = (contentType: string) => /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType);
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;
// Digits, or digits with a zero fraction: JSON Schema counts 6.0 as the integer 6, and so do we.
const INTEGRAL = /^-?\d+(?:\.0+)?$/;

/** Strings a database can store: Postgres text refuses U+0000, and a lone surrogate would become U+FFFD. */
function refuseUnstorable(text: string): void {
  if (!text.isWellFormed()) {
    throw new Problem(400, 'The request body has a lone surrogate (an unpaired \\ud800-\\udfff escape).');
  }
  if (text.includes('\u0000')) {
    throw new Problem(400, 'The request body has a NUL character (\\u0000), which no field accepts.');
  }
}

/**
 * Parses a JSON text. A number that is not an integer written as one (6, 6.0) and safe as a JS number keeps
 * the exact text the client wrote ("0.10", "1e3"), so money is validated as written and never passes through a
 * binary float. Strings and keys with a lone surrogate or a NUL are refused.
 */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text, (key, value, context?: { source?: string }) => {
      refuseUnstorable(key);
      if (typeof value === 'string') refuseUnstorable(value);
      if (typeof value !== 'number' || context?.source === undefined) return value;
      return INTEGRAL.test(context.source) && Number.isSafeInteger(value) ? value : context.source;
    });
  } catch (error) {
    if (error instanceof Problem) throw error;
    throw new Problem(400, 'The request body is not valid JSON.');
  }
}

// A declared length is refused before reading; a chunked body is bounded by the server's maxRequestBodySize
// (twice this limit, see server.ts) and then measured here.
async function readBytes(request: Request): Promise<Uint8Array> {
  const tooLarge = () => new Problem(413, `The request body is larger than ${MAX_BODY_BYTES / 1024} KiB.`);
  if (Number(request.headers.get('content-length')) > MAX_BODY_BYTES) throw tooLarge();
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > MAX_BODY_BYTES) throw tooLarge();
  return bytes;
}

// fatal: invalid UTF-8 (a Latin-1 é, say) is refused rather than decoded to U+FFFD. ignoreBOM keeps a byte order
// mark in the text, so the raw text stays byte for byte what arrived.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = '\uFEFF';

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Problem(400, 'The request body is not valid UTF-8; send JSON encoded as UTF-8.');
  }
}

/**
 * What an empty body parses to, whatever its Content-Type: a lifecycle command takes it as `{}`, a create refuses
 * it with 400.
 */
export const EMPTY_BODY: unique symbol = Symbol('empty body');

/** The 400 for a route that needs a body and got none. */
export const emptyBodyProblem = () => new Problem(400, 'The request body is empty; send it as JSON.');

const rawBodies = new WeakMap<Request, string>();

/** The body exactly as it arrived (the idempotency fingerprint hashes it): empty when there was none. */
export const rawBodyOf = (request: Request): string => rawBodies.get(request) ?? '';

/** The only body parser of the app: UTF-8 JSON, bounded, with exact decimals; any other media type is 415. */
export const jsonBody = new Elysia({ name: 'json-body' }).onParse({ as: 'global' }, async ({ request }) => {
  const bytes = await readBytes(request);
  if (bytes.byteLength === 0) return EMPTY_BODY;
  // Elysia's contentType has lost its parameters, and is empty on a listening server when the body is.
  const contentType = request.headers.get('content-type') ?? '';
  if (!isJson(contentType)) {
    throw new Problem(415, 'Send the body as JSON with Content-Type: application/json.');
  }
  const charset = CHARSET.exec(contentType)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new Problem(415, 'Send the body as JSON encoded as UTF-8 (charset=utf-8, or no charset).');
  }
  const text = decodeUtf8(bytes);
  rawBodies.set(request, text);
  return parseJsonBody(text.startsWith(BOM) ? text.slice(BOM.length) : text);
});
