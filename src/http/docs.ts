import { swagger } from '@elysiajs/swagger';
import { Elysia } from 'elysia';
import packageJson from '../../package.json';

const SCALAR_BUNDLE_ROUTE = '/docs/assets/scalar.js';
const scalarBundle = Bun.file(
  new URL('./browser/standalone.js', import.meta.resolve('@scalar/api-reference')),
);

// Scalar loads fonts from its servers and calls an AI registry unless told not to; the plugin's type lacks
// `agent`, so the configuration is typed on its own.
const offlineScalarConfig: Record<string, unknown> = {
  withDefaultFonts: false,
  agent: { disabled: true },
  hideClientButton: true,
  telemetry: false,
};

/**
 * The OpenAPI document at /docs/json and the Scalar UI at /docs, every asset served from this host. A factory:
 * the swagger plugin keeps one pre-built response per instance, which two apps must not share.
 */
export const docs = () =>
  new Elysia({ name: 'docs' })
    .get(SCALAR_BUNDLE_ROUTE, () => scalarBundle, { detail: { hide: true } })
    .use(
      swagger({
        path: '/docs',
        specPath: '/docs/json',
        provider: 'scalar',
        scalarCDN: SCALAR_BUNDLE_ROUTE,
        scalarConfig: offlineScalarConfig,
        exclude: [SCALAR_BUNDLE_ROUTE],
        documentation: {
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
