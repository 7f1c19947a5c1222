import { STATUS_CODES } from 'node:http';
import { type Permission, rolePermissions } from '../auth/permissions';
import { isApiRoute } from './api-routes';
import { PROBLEM_CONTENT_TYPE, ProblemSchema, problemTitle } from './problem';

type Json = Record<string, unknown>;

interface Operation extends Json {
  description?: string;
  parameters?: Json[];
  responses?: Record<string, Json>;
  security?: Record<string, string[]>[];
}

/** The document @elysiajs/swagger builds, as far as the finishing step reads it. */
export interface GeneratedDocument extends Json {
  paths: Record<string, Record<string, Operation>>;
  components?: Json & { schemas?: Record<string, Json> };
}

/** Operation fields (merged over what Elysia derives) for routes whose answers their schemas cannot describe. */
export type OperationOverlay = Record<string, Record<string, Partial<Operation>>>;

const PROBLEM_SCHEMA = 'problem';
export const BEARER_SCHEME = 'bearer';
export const METRICS_SCHEME = 'metricsToken';
const ETAG_MARKER = 'x-etag';
// Where the guards' macro writes the permission a route needs (src/auth/plugin.ts).
const PERMISSION_KEY = 'x-permission';

const integerHeader = (description: string) => ({ description, schema: { type: 'integer', minimum: 0 } });

const headers = {
  'X-Request-Id': {
    description:
      "The request's id: the client's own when it sent a sane one, else a new one; every log line carries it",
    required: true,
    schema: { type: 'string', examples: ['6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10'] },
  },
  Location: {
    description: 'The path of the created resource',
    required: true,
    schema: { type: 'string', examples: ['/api/loans/6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10'] },
  },
  Link: {
    description: 'The next page, `<…>; rel="next"`; absent on the last page',
    schema: { type: 'string', examples: ['</api/loans?limit=50&cursor=…>; rel="next"'] },
  },
  ETag: {
    description: "The loan's version as a strong entity tag, for `If-Match`",
    required: true,
    schema: { type: 'string', pattern: '^"\\d+"$', examples: ['"3"'] },
  },
  'RateLimit-Limit': integerHeader('Requests a client may make a minute (absent when rate limiting is off)'),
  'RateLimit-Remaining': integerHeader('Requests left before the limit answers 429'),
  'RateLimit-Reset': integerHeader('Seconds until the full allowance is back'),
  'Retry-After': {
    description: 'Seconds to wait before retrying',
    required: true,
    schema: { type: 'integer', minimum: 1 },
  },
  'WWW-Authenticate': {
    description: 'The authentication scheme to use',
    required: true,
    schema: { type: 'string', examples: ['Bearer'] },
  },
  'Idempotent-Replayed': {
    description:
      'Present, `true`, when this is the stored answer to an earlier request with the same Idempotency-Key',
    schema: { type: 'string', const: 'true' },
  },
} satisfies Record<string, Json>;

// Request headers every write under /api understands (see src/http/idempotency.ts and src/http/etag.ts).
const idempotencyKeyParameter = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes a retry safe: the same key with the same method, path and body within 24 hours answers the stored ' +
    'response; with another request, 422; while the first is in flight, 409 with Retry-After: 1.',
  schema: { type: 'string', pattern: '^[!-~]{1,255}$', examples: ['apply-2026-12-01-0001'] },
};
const ifMatchParameter = {
  name: 'If-Match',
  in: 'header',
  required: false,
  description: 'Only if the loan is still at this ETag (strong comparison; `*` or a list); 412 otherwise.',
  schema: { type: 'string', examples: ['"3"'] },
};

type ResponseHeader = keyof typeof headers;

/**
 * Spread into the options of a response schema whose every response carries the resource's ETag:
 * `t.Object({ … }, { description: 'A loan', ...sentWithETag })`. Each response with that schema (a model by name
 * or inline) documents the header; other headers need no marking (see `headersFor`).
 */
export const sentWithETag = { [ETAG_MARKER]: true } as const;

const securitySchemes = {
  [BEARER_SCHEME]: {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key, or a JWT from the configured issuer',
  },
  [METRICS_SCHEME]: {
    type: 'http',
    scheme: 'bearer',
    description: 'METRICS_TOKEN; /metrics is open when it is not set',
  },
};

const schemaMaps = ['properties', 'patternProperties', '$defs', 'dependentSchemas'];
const schemaLists = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];
const schemaValues = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains'];
// TypeBox's custom error message, and what Elysia keeps from OpenAPI 3.0 (`nullable` beside a null branch) or
// its model registry (`$id: "#/components/…"`, a fragment, which JSON Schema 2020-12 forbids there).
const nonSchemaKeys = ['error', 'nullable', '$id', ETAG_MARKER];

/** A JSON Schema 2020-12 copy of a TypeBox schema: no symbols, no TypeBox or Elysia extras, at every depth. */
function cleanSchema(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return schema;
  const clean: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (nonSchemaKeys.includes(key) || value === undefined) continue;
    if (schemaMaps.includes(key) && value && typeof value === 'object')
      clean[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, cleanSchema(sub)]));
    else if (schemaLists.includes(key) && Array.isArray(value)) clean[key] = value.map(cleanSchema);
    else if (schemaValues.includes(key)) clean[key] = cleanSchema(value);
    else clean[key] = structuredClone(value);
  }
  return clean;
}

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });

function headersFor(
  path: string,
  method: string,
  operation: Operation,
  status: string,
  sendsETag: boolean,
): Record<string, Json> {
  const names: ResponseHeader[] = ['X-Request-Id'];
  if (isApiRoute(path)) names.push('RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset');
  if (status === '201') names.push('Location');
  if (status === '200' && operation.parameters?.some((p) => p.in === 'query' && p.name === 'cursor'))
    names.push('Link');
  if (status === '401') names.push('WWW-Authenticate');
  if (status === '429' || status === '503') names.push('Retry-After');
  if (sendsETag) names.push('ETag');
  if (isApiRoute(path) && method === 'post' && status.startsWith('2')) names.push('Idempotent-Replayed');
  return Object.fromEntries(names.map((name) => [name, ref('headers', name)]));
}

/** A success answer carries one media type: JSON, or text for a route that returns a string. */
function successContent(schema: Json | undefined, models: Models): Json | undefined {
  if (!schema) return undefined;
  const type = (resolve(schema, models) ?? schema).type;
  return { [type === 'string' ? 'text/plain' : 'application/json']: { schema: cleanSchema(schema) } };
}

type Models = Record<string, Json>;
const resolve = (schema: Json, models: Models): Json | undefined =>
  typeof schema.$ref === 'string' ? models[schema.$ref.split('/').at(-1) ?? ''] : schema;

function finishResponse(
  path: string,
  method: string,
  operation: Operation,
  status: string,
  response: Json,
  models: Models,
) {
  const code = Number(status);
  const isProblem = code >= 400;
  const description =
    (isProblem ? problemTitle(code) : (response.description as string | undefined)) ??
    STATUS_CODES[code] ??
    status;
  // Elysia writes the same schema under each media type it parses requests with; the JSON one is the answer.
  const generated = (response.content as Record<string, { schema?: Json }> | undefined)?.['application/json'];
  const content = isProblem
    ? { [PROBLEM_CONTENT_TYPE]: { schema: ref('schemas', PROBLEM_SCHEMA) } }
    : generated
      ? successContent(generated.schema, models)
      : (response.content as Json | undefined);
  // Elysia copies a response schema's own options onto the response object, the only trace of an inline one's.
  const schema = generated?.schema && resolve(generated.schema, models);
  const sendsETag = response[ETAG_MARKER] === true || schema?.[ETAG_MARKER] === true;
  return {
    description,
    headers: headersFor(path, method, operation, status, sendsETag),
    ...(content && { content }),
  };
}

const rolesWith = (permission: Permission) =>
  Object.entries(rolePermissions)
    .filter(([, granted]) => granted.has(permission))
    .map(([role]) => role);

function finishOperation(
  path: string,
  method: string,
  generated: Operation,
  models: Models,
  overlay: Partial<Operation> = {},
): Operation {
  const operation: Operation = {
    ...generated,
    ...overlay,
    responses: { ...generated.responses, ...overlay.responses },
  };
  const isApi = isApiRoute(path);
  const permission = operation[PERMISSION_KEY] as Permission | undefined;
  if (permission) {
    const roles = rolesWith(permission);
    const note = `Needs \`${permission}\`, which the ${roles.join(', ')} role${roles.length > 1 ? 's have' : ' has'}.`;
    operation.description = [operation.description, note].filter(Boolean).join('\n\n');
  }
  // Open routes say so (an empty list) rather than leave a reader to guess.
  operation.security ??= isApi ? [{ [BEARER_SCHEME]: [] }] : [];

  // Any /api request can lack a credential, carry a JWT that names no single role (403), be rate limited, or
  // find the database (or the identity provider) unreachable; any request at all can fail.
  const crossCutting = [...(isApi ? [401, 403, 429, 503] : []), 500];
  const responses = { ...operation.responses };
  const isApiWrite = isApi && method === 'post';
  // An Idempotency-Key still in flight (409) or reused with another request (422), on any write.
  if (isApiWrite) for (const status of [409, 422]) responses[status] ??= {};
  const requestHeaders = [
    ...(isApiWrite ? [idempotencyKeyParameter] : []),
    ...(responses[412] ? [ifMatchParameter] : []),
  ];
  if (requestHeaders.length > 0) operation.parameters = [...(operation.parameters ?? []), ...requestHeaders];
  for (const status of crossCutting) responses[status] ??= {};
  operation.responses = Object.fromEntries(
    Object.entries(responses)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([status, response]) => [
        status,
        finishResponse(path, method, operation, status, response, models),
      ]),
  );

  operation.parameters = operation.parameters?.map(({ examples, schema, description, ...parameter }) => ({
    ...parameter,
    ...(description !== undefined && { description }),
    // A parameter's own `examples` is a map of Example Objects; the array Elysia writes belongs in its schema.
    schema: { ...(cleanSchema(schema) as Json), ...(Array.isArray(examples) && { examples }) },
  }));
  if (operation.requestBody) {
    const body = operation.requestBody as Json & { content: Record<string, { schema: unknown }> };
    operation.requestBody = {
      ...body,
      content: Object.fromEntries(
        Object.entries(body.content).map(([type, media]) => [type, { schema: cleanSchema(media.schema) }]),
      ),
    };
  }
  return operation;
}

/**
 * Turns the document @elysiajs/swagger generates into a valid OpenAPI 3.1 one that says what the server
 * really sends: its schemas are JSON Schema 2020-12 already (`const`, `examples` arrays, `type: "null"`), so
 * the version is declared as 3.1 and TypeBox's extras are removed; every response is described and carries
 * its headers; errors are application/problem+json; /api routes take a bearer credential and may answer 401,
 * 403, 429 and 503; every route may answer 500.
 */
export function finishOpenApiDocument(generated: GeneratedDocument, overlay: OperationOverlay = {}): Json {
  const paths = Object.fromEntries(
    Object.entries(generated.paths).map(([path, operations]) => [
      path,
      Object.fromEntries(
        Object.entries(operations).map(([method, operation]) => [
          method,
          finishOperation(
            path,
            method,
            operation,
            generated.components?.schemas ?? {},
            overlay[path]?.[method],
          ),
        ]),
      ),
    ]),
  );
  const schemas = Object.fromEntries(
    Object.entries({ ...generated.components?.schemas, [PROBLEM_SCHEMA]: ProblemSchema }).map(
      ([name, schema]) => [name, cleanSchema(schema)],
    ),
  );
  const components = { ...generated.components, schemas, headers, securitySchemes };
  return { ...generated, openapi: '3.1.0', paths, components: withoutUnused(components, paths) };
}

/**
 * The schemas and headers that the paths reach, directly or through each other: Elysia registers query and
 * params models too, which it then writes inline as parameters.
 */
function withoutUnused(components: Record<string, Json>, paths: Json): Record<string, Json> {
  const used = new Set<string>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && !used.has(value)) {
        used.add(value);
        const [, , kind, name] = value.split('/');
        if (kind && name) visit(components[kind]?.[name]);
      } else visit(value);
    }
  };
  visit(paths);
  const pruned = (kind: string) =>
    Object.fromEntries(
      Object.entries(components[kind] ?? {}).filter(([name]) => used.has(`#/components/${kind}/${name}`)),
    );
  return { ...components, schemas: pruned('schemas'), headers: pruned('headers') };
}
