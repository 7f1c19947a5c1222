import { Type } from '@sinclair/typebox';
import { t } from 'elysia';
import { loanStatuses } from '../../db/schema';

const money = (example: string) => t.String({ pattern: '^\\d+\\.\\d{2}$', examples: [example] });
const counts = (example: Record<string, number>) =>
  t.Record(t.String(), Type.Integer({ minimum: 0 }), { examples: [example] });

export const StatsModel = {
  stats: t.Object(
    {
      total_loans: Type.Integer({ minimum: 0, examples: [5] }),
      total_amount: money('123900.00'),
      avg_amount: money('24780.00'),
      by_status: t.Object(Object.fromEntries(loanStatuses.map((s) => [s, Type.Integer({ minimum: 0 })])), {
        description: 'Every status, with 0 where no loan has it',
      }),
      by_currency: counts({ INR: 1, KES: 1 }),
      amounts_by_currency: t.Record(
        t.String(),
        t.Object({
          count: Type.Integer({ minimum: 1 }),
          total: money('50000.00'),
          average: money('50000.00'),
        }),
        { description: 'Per currency, since sums across currencies mean nothing on their own' },
      ),
    },
    {
      description:
        'Portfolio totals. Averages are rounded to two places, half away from zero. `total_amount` and ' +
        '`avg_amount` add amounts of every currency together: read them with `amounts_by_currency` beside them.',
    },
  ),
};

export type Stats = typeof StatsModel.stats.static;
