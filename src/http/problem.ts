import { Type } from '@sinclair/typebox';
import { t } from 'elysia';

/** One RFC 9457 problem per status the API answers with; `type` is a stable identifier clients can switch on. */
const problemKinds = {
  400: { slug: 'bad-request', title: 'Bad request' },
  401: { slug: 'unauthorized', title: 'Unauthorized' },
  403: { slug: 'forbidden', title: 'Forbidden' },
  404: { slug: 'not-found', title: 'Not found' },
  409: { slug: 'conflict', title: 'Conflict' },
  412: { slug: 'precondition-failed', title: 'Precondition failed' },
  413: { slug: 'payload-too-large', title: 'Payload too large' },
  415: { slug: 'unsupported-media-type', title: 'Unsupported media type' },
  422: { slug: 'validation-failed', title: 'Validation failed' },
  429: { slug: 'rate-limited', title: 'Too many requests' },
  500: { slug: 'internal-error', title: 'Internal server error' },
  503: { slug: 'service-unavailable', title: 'Service unavailable' },
} as const;

export type ProblemStatus = keyof typeof problemKinds;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'https://branchloans.com/problems/';

export const FieldError = t.Object({
  path: t.String({ description: 'JSON Pointer to the offending field', examples: ['/amount'] }),
  message: t.String({ examples: ['amount must be greater than 0 and at most 50000'] }),
});
export type FieldError = typeof FieldError.static;

export const ProblemSchema = t.Object(
  {
    type: t.String({ examples: ['https://branchloans.com/problems/validation-failed'] }),
    title: t.String({ examples: ['Validation failed'] }),
    status: Type.Integer({ examples: [422] }),
    detail: t.String({ examples: ['The request body breaks 1 rule.'] }),
    errors: t.Optional(t.Array(FieldError)),
  },
  { description: 'An RFC 9457 problem, served as application/problem+json' },
);
export type ProblemBody = typeof ProblemSchema.static;

export interface ProblemOptions {
  errors?: FieldError[];
  headers?: Record<string, string>;
  /** A more specific problem type than the status's own (`invalid-transition`), with its title. */
  kind?: { slug: string; title: string };
}

/** Seconds a client should wait before retrying a 503 (the database or the identity provider unavailable). */
export const RETRY_AFTER_UNAVAILABLE_SECONDS = 5;

/** An error the API means to show its client, thrown anywhere on the request path. */
export class Problem extends Error {
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;
  readonly kind: { slug: string; title: string };

  constructor(
    readonly status: ProblemStatus,
    readonly detail: string,
    options: ProblemOptions = {},
  ) {
    super(detail);
    this.errors = options.errors;
    this.headers = options.headers;
    this.kind = options.kind ?? problemKinds[status];
  }

  /** 503 with the Retry-After every "unavailable, retry shortly" answer carries. */
  static unavailable(detail: string): Problem {
    return new Problem(503, detail, { headers: { 'retry-after': String(RETRY_AFTER_UNAVAILABLE_SECONDS) } });
  }

  get body(): ProblemBody {
    return {
      type: `${PROBLEM_TYPE_BASE}${this.kind.slug}`,
      title: this.kind.title,
      status: this.status,
      detail: this.detail,
      ...(this.errors && { errors: this.errors }),
    };
  }
}

/** OpenAPI `response` entries for the problems a route can answer with. */
export const problemResponses = <const S extends ProblemStatus>(...statuses: S[]) =>
  Object.fromEntries(statuses.map((status) => [status, ProblemSchema])) as Record<S, typeof ProblemSchema>;

/** The title of a status's problem; the OpenAPI document describes each error response with it. */
export const problemTitle = (status: number): string | undefined =>
  problemKinds[status as ProblemStatus]?.title;
