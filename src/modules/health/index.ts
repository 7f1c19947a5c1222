import { Elysia, t } from 'elysia';

export const healthRoutes = new Elysia({ tags: ['Operations'] }).get(
  '/health',
  () => ({ status: 'ok' as const }),
  {
    response: { 200: t.Object({ status: t.Literal('ok') }) },
    detail: {
      summary: 'Liveness',
      description: 'Answers while the process serves requests; never touches the database.',
    },
  },
);
