import { beforeAll, describe, expect, test } from 'bun:test';
import { useTestApp } from '../support/app';

const t = useTestApp();

type OpenApi = {
  components: { schemas: Record<string, unknown> };
  paths: Record<
    string,
    Record<string, { summary?: string; responses: Record<string, unknown>; requestBody?: unknown }>
  >;
};

describe('the OpenAPI document at /docs/json', () => {
  let doc: OpenApi;
  beforeAll(async () => {
    const response = await t.req('/docs/json');
    expect(response.status).toBe(200);
    doc = (await response.json()) as OpenApi;
  });

  test('lists every route with a summary', () => {
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op.summary]),
    );
    const names = routes.map(([name]) => name);
    for (const route of [
      'GET /health',
      'GET /api/loans',
      'POST /api/loans',
      'GET /api/loans/{id}',
      'GET /api/stats',
    ]) {
      expect(names).toContain(route);
    }
    expect(routes.every(([, summary]) => typeof summary === 'string' && summary.length > 0)).toBeTrue();
    expect(names.some((name) => name?.includes('/docs'))).toBeFalse();
  });

  test('documents the error responses of each loan route', () => {
    expect(Object.keys(doc.paths['/api/loans']?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(['201', '400', '413', '415', '422', '503']),
    );
    expect(Object.keys(doc.paths['/api/loans/{id}']?.get?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '404']),
    );
  });

  test('takes the create body as JSON only, with its rules and an example', () => {
    const body = doc.paths['/api/loans']?.post?.requestBody as {
      content: Record<string, { schema: { $ref?: string } }>;
    };
    expect(Object.keys(body.content)).toEqual(['application/json']);
    const schema = body.content['application/json']?.schema ?? {};
    const text = JSON.stringify(
      schema.$ref ? doc.components.schemas[schema.$ref.split('/').at(-1) ?? ''] : schema,
    );
    for (const field of ['borrower_id', 'amount', 'currency', 'term_months', 'interest_rate_apr']) {
      expect(text).toContain(field);
    }
    expect(text).toContain('"additionalProperties":false');
    expect(text).toContain('usr_india_999');
  });
});

describe('the docs page at /docs', () => {
  test('loads only scripts and styles from this host', async () => {
    const response = await t.req('/docs');
    expect(response.status).toBe(200);
    const html = await response.text();
    const sources = [...html.matchAll(/(?:src|href)=["']([^"']+)["']/g)].map((m) => m[1]);
    expect(sources).toContain('/docs/assets/scalar.js');
    expect(sources.filter((s) => /^(https?:)?\/\//.test(s ?? ''))).toEqual([]);
    expect(html).toContain('"withDefaultFonts":false');
    expect(html).toContain('"agent":{"disabled":true}');
  });

  test("configures Scalar without its hosted product's buttons (the browser test sees them gone)", async () => {
    const html = await (await t.req('/docs')).text();
    for (const setting of [
      '"mcp":{"disabled":true}',
      '"showDeveloperTools":"never"',
      '"hideClientButton":true',
      '"preferredSecurityScheme":"bearer"',
    ]) {
      expect(html).toContain(setting);
    }
  });

  test('serves the Scalar bundle itself', async () => {
    const response = await t.req('/docs/assets/scalar.js');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('javascript');
    expect((await response.text()).length).toBeGreaterThan(100_000);
  });
});
