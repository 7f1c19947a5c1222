import { Elysia } from 'elysia';
import { Problem } from './problem';

export const MAX_BODY_BYTES = 64 * 1024;

const isJson = (contentType: string) => /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType);
const PLAIN_INTEGER = /^-?\d+$/;

/**
 * Reads a JSON body of at most 64 KiB. A number that is not a plain safe integer keeps the exact text the
 * client wrote ("0.10", "1e3"), so money is validated as written and never passes through a binary float.
 */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text, (_key, value, context?: { source?: string }) =>
      typeof value === 'number' &&
      context?.source !== undefined &&
      !(PLAIN_INTEGER.test(context.source) && Number.isSafeInteger(value))
        ? context.source
        : value,
    );
  } catch {
    throw new Problem(400, 'The request body is not valid JSON.');
  }
}

// A declared length is refused before reading; a chunked body is bounded by the server's maxRequestBodySize
// (twice this limit, see server.ts) and then measured here.
async function readText(request: Request): Promise<string> {
  const tooLarge = new Problem(413, `The request body is larger than ${MAX_BODY_BYTES / 1024} KiB.`);
  if (Number(request.headers.get('content-length')) > MAX_BODY_BYTES) throw tooLarge;
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw tooLarge;
  return text;
}

/**
 * What an empty body parses to, whatever its Content-Type: a lifecycle command takes it as `{}`, a create refuses
 * it with 400.
 */
export const EMPTY_BODY: unique symbol = Symbol('empty body');

const rawBodies = new WeakMap<Request, string>();

/** The body exactly as it arrived (the idempotency fingerprint hashes it): empty when there was none. */
export const rawBodyOf = (request: Request): string => rawBodies.get(request) ?? '';

/** The only body parser of the app: JSON, bounded, with exact decimals; anything else is 415. */
export const jsonBody = new Elysia({ name: 'json-body' }).onParse(
  { as: 'global' },
  async ({ request, contentType }) => {
    const text = await readText(request);
    rawBodies.set(request, text);
    if (text === '') return EMPTY_BODY;
    if (!isJson(contentType ?? '')) {
      throw new Problem(415, 'Send the body as JSON with Content-Type: application/json.');
    }
    return parseJsonBody(text);
  },
);
