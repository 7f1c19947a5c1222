import { Elysia } from 'elysia';
import { problemResponses } from '../../http/problem';
import { StatsModel } from './model';
import type { StatsRepository } from './repository';

export const statsRoutes = (stats: StatsRepository) =>
  new Elysia({ prefix: '/api/stats', tags: ['Stats'] }).model(StatsModel).get('', () => stats.read(), {
    response: { 200: 'stats', ...problemResponses(429, 503) },
    detail: { summary: 'Portfolio statistics', description: StatsModel.stats.description },
  });
