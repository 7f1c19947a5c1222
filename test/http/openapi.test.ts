import { beforeAll, describe, expect, test } from 'bun:test';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { FormatRegistry } from '@sinclair/typebox';
import Ajv2020 from 'ajv/dist/2020';
import { Elysia, t } from 'elysia';
import { docs } from '../../src/http/docs';
import { MAX_BODY_BYTES } from '../../src/http/json-body';
import { sentWithETag } from '../../src/http/openapi';
import { bearer, devKeys, type TestApp, useTestApp } from '../support/app';

/** What every /api request of this file sends as its credential, unless it tests another. */
const CREDENTIAL = bearer(devKeys.officer);
const BORROWER_CREDENTIAL = bearer(devKeys.borrower);
const NO_CREDENTIAL = { authorization: '' };
const METRICS_TOKEN = 'metrics-test-token';

type Json = Record<string, unknown>;
interface Documented {
  description: string;
  headers?: Record<string, { $ref: string }>;
  content?: Record<string, { schema: Json }>;
}
interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, Documented> }>>;
  components: Json & { headers: Record<string, { required?: boolean }> };
}

const served = useTestApp({ metricsToken: METRICS_TOKEN });
const limited = useTestApp({ rateLimitPerMinute: 1 });
let doc: OpenApi;
let ajv: Ajv2020;

beforeAll(async () => {
  const response = await served.req('/docs/json');
  expect(response.status).toBe(200);
  doc = (await response.json()) as OpenApi;
  // The server's own format checks (uuid, date-time, loan-amount, …), so the document is read as the server
  // validates; the whole document is one schema resource, so `#/components/…` references resolve.
  ajv = new Ajv2020({ strict: false, allErrors: true });
  for (const [name, check] of FormatRegistry.Entries())
    ajv.addFormat(name, { type: 'string', validate: check });
  ajv.addSchema(doc, 'openapi.json');
});

describe('the OpenAPI document', () => {
  test('is OpenAPI 3.1 with no problem under Redocly recommended-strict', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const config = await createConfig({
      extends: ['recommended-strict'],
      rules: {
        // /health and /ready have no client error to answer with.
        'operation-4xx-response': 'off',
        // A private service: there is no licence to state.
        'info-license': 'off',
      },
    });
    const problems = await lintFromString({
      source: JSON.stringify(doc),
      absoluteRef: 'openapi.json',
      config,
    });
    expect(problems.map((p) => `${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`)).toEqual([]);
  });

  test('holds only JSON Schema 2020-12 keywords in its schemas (no TypeBox or Elysia extras)', () => {
    const allowed = new Set(jsonSchemaKeywords);
    const stray: string[] = [];
    forEachSchema(doc, (schema, pointer) => {
      for (const key of Object.keys(schema)) if (!allowed.has(key)) stray.push(`${pointer}/${key}`);
    });
    expect(stray).toEqual([]);
  });

  test('has examples that obey their own schema, the server formats included', () => {
    const broken: string[] = [];
    forEachSchema(doc, (schema, pointer) => {
      if (!Array.isArray(schema.examples)) return;
      const validate = ajv.compile({ $ref: `openapi.json#${pointer}` });
      schema.examples.forEach((example, index) => {
        if (!validate(example))
          broken.push(`${pointer}/examples/${index}: ${ajv.errorsText(validate.errors)}`);
      });
    });
    expect(broken).toEqual([]);
  });

  test('takes a bearer credential on every /api route, and none on the operational routes', () => {
    expect(doc.components.securitySchemes).toMatchObject({ bearer: { type: 'http', scheme: 'bearer' } });
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const operation of Object.values(operations) as { security?: unknown; responses: Json }[]) {
        if (path.startsWith('/api/')) {
          expect(operation.security).toEqual([{ bearer: [] }]);
          expect(Object.keys(operation.responses)).toEqual(
            expect.arrayContaining(['401', '403', '429', '500', '503']),
          );
        } else if (path === '/metrics') expect(operation.security).toEqual([{ metricsToken: [] }, {}]);
        else expect(operation.security).toEqual([]);
      }
    }
  });
});

describe('what a route declares for the document', () => {
  test('a response schema marked sentWithETag documents ETag, by model name or inline', async () => {
    const thing = t.Object({ id: t.String() }, { description: 'A thing', ...sentWithETag });
    const app = new Elysia()
      .use(docs())
      .model({ thing })
      .get('/api/things/:id', () => ({ id: '1' }), { response: { 200: 'thing' } })
      .post('/api/things', () => ({ id: '1' }), { response: { 201: thing, 404: t.Object({}) } });
    const things = (await (await app.handle(new Request('http://localhost/docs/json'))).json()) as OpenApi;
    const headersOf = (path: string, method: string, status: string) =>
      Object.keys(things.paths[path]?.[method]?.responses[status]?.headers ?? {});
    expect(headersOf('/api/things/{id}', 'get', '200')).toContain('ETag');
    expect(headersOf('/api/things', 'post', '201')).toEqual(expect.arrayContaining(['ETag', 'Location']));
    expect(headersOf('/api/things', 'post', '404')).not.toContain('ETag');
    expect(JSON.stringify(things.components.schemas)).not.toContain('x-etag');
  });
});

// Each row is one real request; its answer must be one the document describes, with the documented media type,
// a body its schema accepts, the required headers, and no header of the documented set left undocumented.
interface Exchange {
  route: string;
  status: number;
  send: (app: TestApp) => Promise<Response>;
}

const unknownLoanId = '99999999-9999-4999-8999-999999999999';
let existingLoanId = '';
const validLoan = { borrower_id: 'usr_india_999', amount: '12000.50', currency: 'INR', term_months: 6 };
const api = (app: TestApp, path: string, init: RequestInit = {}) =>
  app.req(path, { ...init, headers: { ...CREDENTIAL, ...init.headers } });
const postLoan = (app: TestApp, body: string, headers: Record<string, string> = {}) =>
  api(app, '/api/loans', {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });

const exchanges: Exchange[] = [
  { route: 'GET /health', status: 200, send: (app) => app.req('/health') },
  { route: 'GET /ready', status: 200, send: (app) => app.req('/ready') },
  {
    route: 'GET /metrics',
    status: 200,
    send: (app) => app.req('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }),
  },
  { route: 'GET /metrics', status: 401, send: (app) => app.req('/metrics', { headers: NO_CREDENTIAL }) },
  { route: 'POST /api/loans', status: 201, send: (app) => postLoan(app, JSON.stringify(validLoan)) },
  { route: 'POST /api/loans', status: 400, send: (app) => postLoan(app, '{"amount":') },
  {
    route: 'POST /api/loans',
    status: 413,
    send: (app) => postLoan(app, JSON.stringify({ ...validLoan, borrower_id: 'x'.repeat(MAX_BODY_BYTES) })),
  },
  {
    route: 'POST /api/loans',
    status: 415,
    send: (app) => postLoan(app, 'amount=1', { 'content-type': 'text/plain' }),
  },
  {
    route: 'POST /api/loans',
    status: 403,
    send: (app) => postLoan(app, JSON.stringify(validLoan), BORROWER_CREDENTIAL),
  },
  {
    route: 'POST /api/loans',
    status: 422,
    send: (app) => postLoan(app, JSON.stringify({ ...validLoan, amount: '0.001', status: 'repaid' })),
  },
  // Two loans exist by now, so a page of one has a next page and its Link.
  { route: 'GET /api/loans', status: 200, send: (app) => api(app, '/api/loans?limit=1') },
  { route: 'GET /api/loans', status: 400, send: (app) => api(app, '/api/loans?limit=0') },
  { route: 'GET /api/loans/{id}', status: 200, send: (app) => api(app, `/api/loans/${existingLoanId}`) },
  { route: 'GET /api/loans/{id}', status: 400, send: (app) => api(app, '/api/loans/not-a-uuid') },
  {
    route: 'GET /api/loans/{id}',
    status: 404,
    send: (app) => api(app, `/api/loans/${unknownLoanId}`),
  },
  { route: 'GET /api/stats', status: 200, send: (app) => api(app, '/api/stats') },
  {
    route: 'GET /api/stats',
    status: 403,
    send: (app) => api(app, '/api/stats', { headers: BORROWER_CREDENTIAL }),
  },
];
const apiRoutes = [...new Set(exchanges.map((e) => e.route).filter((route) => route.includes(' /api/')))];
const eachApiRoute = (status: number, headers: Record<string, string>): Exchange[] =>
  apiRoutes.map((route) => ({
    route,
    status,
    send: (app) => {
      const [method, path = ''] = route.split(' ');
      return app.req(path.replace('{id}', unknownLoanId), { method, headers });
    },
  }));
exchanges.push(...eachApiRoute(401, NO_CREDENTIAL));
// The rate-limited app has one request a minute: the first request spends it, each route then answers 429.
const rateLimited = eachApiRoute(429, CREDENTIAL);
// Not provoked here: a 403 on a route every role may call (a JWT naming no single role), a 409 on a POST (its
// idempotency key still in flight), and the faults (test/faults provokes 500 and 503).
const notProvokedHere = ['403', '409', '500', '503'];

describe('real responses against the document', () => {
  beforeAll(async () => {
    const created = await postLoan(served, JSON.stringify({ ...validLoan, borrower_id: 'usr_kenya_001' }));
    existingLoanId = ((await created.json()) as { id: string }).id;
  });

  for (const { label, app, list } of [
    { label: '', app: served, list: exchanges },
    { label: ' (rate limited)', app: limited, list: rateLimited },
  ]) {
    test(`every exchange is documented, body and headers${label}`, async () => {
      if (list === rateLimited) await limited.req('/api/stats', { headers: CREDENTIAL });
      const mismatches: string[] = [];
      for (const { route, status, send } of list) {
        const response = await send(app);
        const where = `${route} → ${response.status}`;
        if (response.status !== status) {
          mismatches.push(`${where}: expected ${status}`);
          continue;
        }
        mismatches.push(...(await compare(route, response)).map((m) => `${where}: ${m}`));
      }
      expect(mismatches).toEqual([]);
    });
  }

  test('every documented response of these routes is one of the exchanges', () => {
    const walked = [...exchanges, ...rateLimited].map((e) => `${e.route} ${e.status}`);
    const documented = [...new Set(exchanges.map((e) => e.route))].flatMap((route) => {
      const [method = '', path = ''] = route.split(' ');
      const responses = doc.paths[path]?.[method.toLowerCase()]?.responses ?? {};
      return Object.keys(responses)
        .filter((status) => !notProvokedHere.includes(status))
        .map((status) => `${route} ${status}`);
    });
    expect(documented.filter((entry) => !walked.includes(entry))).toEqual([]);
  });
});

async function compare(route: string, response: Response): Promise<string[]> {
  const [method = '', path = ''] = route.split(' ');
  const documented = doc.paths[path]?.[method.toLowerCase()]?.responses[String(response.status)];
  if (!documented) return ['status not documented'];
  const problems: string[] = [];

  const contentType = response.headers.get('content-type') ?? '';
  const mediaType = Object.keys(documented.content ?? {}).find((type) => sameMediaType(type, contentType));
  const text = await response.text();
  if (!mediaType)
    problems.push(`content-type ${contentType} is not one of ${Object.keys(documented.content ?? {})}`);
  else {
    const validate = ajv.compile({
      $ref: `openapi.json#/paths/${pointerEscape(path)}/${method.toLowerCase()}/responses/${response.status}/content/${pointerEscape(mediaType)}/schema`,
    });
    const body = mediaType.includes('json') ? JSON.parse(text) : text;
    if (!validate(body)) problems.push(`body: ${ajv.errorsText(validate.errors)}`);
  }

  const documentedHeaders = Object.entries(documented.headers ?? {}).map(([name, header]) => ({
    name: name.toLowerCase(),
    required: doc.components.headers[header.$ref.split('/').at(-1) ?? '']?.required === true,
  }));
  for (const name of response.headers.keys()) {
    if (!representationHeaders.includes(name) && !documentedHeaders.some((h) => h.name === name))
      problems.push(`sends ${name}, which is not documented`);
  }
  for (const { name, required } of documentedHeaders) {
    if (required && !response.headers.has(name))
      problems.push(`documents ${name} as required but does not send it`);
  }
  return problems;
}

// Headers of the body itself, which OpenAPI describes through the media type rather than as headers.
const representationHeaders = ['content-type', 'content-length'];

/** Same type/subtype, and every parameter the document names (`version=0.0.4`) present in what was sent. */
function sameMediaType(documented: string, sent: string): boolean {
  const parse = (value: string) =>
    value
      .toLowerCase()
      .split(';')
      .map((part) => part.trim());
  const [documentedType, ...documentedParameters] = parse(documented);
  const [sentType, ...sentParameters] = parse(sent);
  return documentedType === sentType && documentedParameters.every((p) => sentParameters.includes(p));
}

const pointerEscape = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

// The vocabularies of JSON Schema 2020-12 (core, applicator, unevaluated, validation, meta-data, format,
// content), plus the two OpenAPI 3.1 adds that this API could use.
const jsonSchemaKeywords = [
  '$schema',
  '$id',
  '$ref',
  '$anchor',
  '$dynamicRef',
  '$dynamicAnchor',
  '$vocabulary',
  '$comment',
  '$defs',
  'prefixItems',
  'items',
  'contains',
  'additionalProperties',
  'properties',
  'patternProperties',
  'dependentSchemas',
  'propertyNames',
  'if',
  'then',
  'else',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'unevaluatedItems',
  'unevaluatedProperties',
  'type',
  'const',
  'enum',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxContains',
  'minContains',
  'maxProperties',
  'minProperties',
  'required',
  'dependentRequired',
  'title',
  'description',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
  'examples',
  'format',
  'contentEncoding',
  'contentMediaType',
  'contentSchema',
  'discriminator',
  'externalDocs',
];

/** Calls `visit` with every schema of the document (components, parameters, bodies, responses, headers). */
function forEachSchema(document: object, visit: (schema: Json, pointer: string) => void): void {
  const walkSchema = (schema: unknown, pointer: string): void => {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return;
    visit(schema as Json, pointer);
    for (const [key, value] of Object.entries(schema)) {
      const at = `${pointer}/${pointerEscape(key)}`;
      if (['properties', 'patternProperties', '$defs', 'dependentSchemas'].includes(key))
        for (const [name, sub] of Object.entries(value as Json))
          walkSchema(sub, `${at}/${pointerEscape(name)}`);
      else if (['anyOf', 'oneOf', 'allOf', 'prefixItems'].includes(key))
        for (const [index, sub] of (value as unknown[]).entries()) walkSchema(sub, `${at}/${index}`);
      else if (['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains'].includes(key))
        walkSchema(value, at);
    }
  };
  // Outside components.schemas, a schema is whatever sits under a `schema` key.
  const findSchemas = (node: unknown, pointer: string): void => {
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      const at = `${pointer}/${pointerEscape(key)}`;
      if (key === 'schema') walkSchema(value, at);
      else findSchemas(value, at);
    }
  };
  const { components, ...rest } = document as { components?: Json & { schemas?: Json } };
  for (const [name, schema] of Object.entries(components?.schemas ?? {}))
    walkSchema(schema, `/components/schemas/${pointerEscape(name)}`);
  findSchemas(rest, '');
  findSchemas({ ...components, schemas: undefined }, '/components');
}
