import { Elysia } from 'elysia';
import { guards } from '../../auth/plugin';
import type { Clock } from '../../clock';
import { problemResponses } from '../../http/problem';
import { StatsModel } from './model';
import type { StatsRepository } from './repository';

export const statsRoutes = (stats: StatsRepository, clock: Clock) =>
  new Elysia({ prefix: '/api/stats', tags: ['Stats'] })
    .use(guards)
    .model(StatsModel)
    .get('', () => stats.read(), {
      permission: 'stats:read',
      response: { 200: 'stats', ...problemResponses(401, 403, 429, 503) },
      detail: { summary: 'Loan statistics', description: StatsModel.stats.description },
    })
    .get('/portfolio', () => stats.portfolio(clock.today()), {
      permission: 'stats:read',
      response: { 200: 'portfolio', ...problemResponses(401, 403, 429, 503) },
      detail: { summary: 'Portfolio at risk (officer)', description: StatsModel.portfolio.description },
    });
