/**
 * Elysia with nothing of the service in it, for `bun run bench:framework`: one /health route answering the
 * service's body. ELYSIA_FLOOR=request-id adds the least any request context can be, an onRequest hook that
 * stamps a fresh X-Request-Id and a global mapResponse hook that hands the response back unchanged (the two
 * hooks src/http/request-context.ts uses, without its access line and metrics).
 */
import { Elysia, t } from 'elysia';

const app = new Elysia();
if (process.env.ELYSIA_FLOOR === 'request-id') {
  app
    .onRequest(({ set }) => {
      set.headers['x-request-id'] = crypto.randomUUID();
    })
    .mapResponse({ as: 'global' }, ({ responseValue }) => responseValue as Response);
}
app
  .get('/health', () => ({ status: 'ok' as const }), {
    response: { 200: t.Object({ status: t.Literal('ok') }) },
  })
  .listen({ port: Number(process.env.PORT), hostname: '127.0.0.1', reusePort: false });
