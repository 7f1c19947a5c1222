import { Type } from '@sinclair/typebox';
import { t } from 'elysia';
import { loanStatuses } from '../../db/schema';
import { Money } from '../../http/schemas';

const counts = (example: Record<string, number>) =>
  t.Record(t.String(), Type.Integer({ minimum: 0 }), { examples: [example] });

export const StatsModel = {
  portfolio: t.Record(
    t.String(),
    t.Object({
      active_loans: Type.Integer({ minimum: 1, examples: [12] }),
      outstanding_principal: Money('84210.50'),
      par_1: Money('8400.00'),
      par_30: Money('2100.00'),
      par_90: Money('0.00'),
    }),
    {
      description:
        'Per currency, over disbursed loans: how many, their outstanding principal, and `par_N`, the ' +
        'outstanding principal of loans N or more days past due (portfolio at risk; an amount, not a ratio)',
      examples: [
        {
          INR: {
            active_loans: 2,
            outstanding_principal: '20400.00',
            par_1: '8400.00',
            par_30: '0.00',
            par_90: '0.00',
          },
        },
      ],
    },
  ),

  stats: t.Object(
    {
      total_loans: Type.Integer({ minimum: 0, examples: [5] }),
      total_amount: Money('123900.00'),
      avg_amount: Money('24780.00'),
      by_status: t.Object(Object.fromEntries(loanStatuses.map((s) => [s, Type.Integer({ minimum: 0 })])), {
        description: 'Every status, with 0 where no loan has it',
      }),
      by_currency: counts({ INR: 1, KES: 1 }),
      amounts_by_currency: t.Record(
        t.String(),
        t.Object({
          count: Type.Integer({ minimum: 1 }),
          total: Money('50000.00'),
          average: Money('50000.00'),
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
export type Portfolio = typeof StatsModel.portfolio.static;
