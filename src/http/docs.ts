import { swagger } from '@elysiajs/swagger';
import { Elysia } from 'elysia';
import packageJson from '../../package.json';
import {
  BEARER_SCHEME,
  finishOpenApiDocument,
  type GeneratedDocument,
  METRICS_SCHEME,
  type OperationOverlay,
} from './openapi';

const SPEC_ROUTE = '/docs/json';
const SCALAR_BUNDLE_ROUTE = '/docs/assets/scalar.js';
const scalarBundle = Bun.file(
  new URL('./browser/standalone.js', import.meta.resolve('@scalar/api-reference')),
);

// Scalar loads fonts from its servers and calls an AI registry unless told not to, and shows buttons of its
// hosted product (Ask AI, Generate MCP, the developer tools' Configure, Share and Deploy, the API client); the
// plugin's type lacks `agent` and `mcp`, so the configuration is typed on its own.
const offlineScalarConfig: Record<string, unknown> = {
  withDefaultFonts: false,
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: 'never',
  hideClientButton: true,
  telemetry: false,
  // Opens with the bearer input showing, so a reader can paste a key and try a request.
  authentication: { preferredSecurityScheme: BEARER_SCHEME },
};

// /metrics answers Prometheus text, and asks for its own token only when METRICS_TOKEN is set ({} = none).
const operationOverlay: OperationOverlay = {
  '/metrics': {
    get: {
      security: [{ [METRICS_SCHEME]: [] }, {}],
      responses: {
        200: {
          description: 'Prometheus text exposition format 0.0.4',
          content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } },
        },
        401: {},
      },
    },
  },
};

/**
 * The OpenAPI document at /docs/json and the Scalar UI at /docs, every asset served from this host. A factory:
 * the swagger plugin keeps one pre-built response per instance, which two apps must not share.
 */
export const docs = () =>
  new Elysia({ name: 'docs' })
    .onAfterHandle(({ path, response }) =>
      path === SPEC_ROUTE
        ? finishOpenApiDocument(response as GeneratedDocument, operationOverlay)
        : undefined,
    )
    .get(SCALAR_BUNDLE_ROUTE, () => scalarBundle, { detail: { hide: true } })
    .use(
      swagger({
        path: '/docs',
        specPath: SPEC_ROUTE,
        provider: 'scalar',
        scalarCDN: SCALAR_BUNDLE_ROUTE,
        scalarConfig: offlineScalarConfig,
        exclude: [SCALAR_BUNDLE_ROUTE],
        documentation: {
          servers: [{ url: '/', description: 'This host' }],
          info: {
            title: 'Branch Loans API',
            version: packageJson.version,
            description:
              'Create and read microloans and see portfolio statistics. Money is a decimal string with two ' +
              'places; every error is RFC 9457 application/problem+json.',
          },
          tags: [
            { name: 'Loans', description: 'Create, read and page through loans' },
            { name: 'Stats', description: 'Portfolio statistics' },
            { name: 'Operations', description: 'Liveness, readiness and metrics' },
          ],
        },
      }),
    );
