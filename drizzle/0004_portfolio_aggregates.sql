CREATE TABLE "portfolio_loans" (
	"loan_id" uuid PRIMARY KEY NOT NULL,
	"currency" char(3) NOT NULL,
	"oldest_unpaid_on" date NOT NULL,
	"outstanding" numeric NOT NULL
);
--> statement-breakpoint
CREATE TABLE "portfolio_totals" (
	"currency" char(3) NOT NULL,
	"oldest_unpaid_on" date NOT NULL,
	"slot" smallint NOT NULL,
	"loans" bigint NOT NULL,
	"outstanding" numeric NOT NULL,
	CONSTRAINT "portfolio_totals_currency_oldest_unpaid_on_slot_pk" PRIMARY KEY("currency","oldest_unpaid_on","slot")
);
--> statement-breakpoint
-- What each disbursed loan counts in the portfolio, recomputed for the loans given from their stored schedule, and
-- the difference added to portfolio_totals (docs/decisions/0006). A loan disbursed before v2 has no stored
-- schedule and nothing paid: its whole amount, due a calendar month after disbursed_on (Postgres clamps to the
-- month's end as the schedule does), or never without a term. Slots and key order as in loan_totals_follow().
CREATE FUNCTION portfolio_follow(ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  counted portfolio_loans[];
  counts portfolio_loans[];
  gone uuid[];
BEGIN
  -- Each loan is looked up by its key (a LATERAL subquery, LIMIT 1 on a primary key so the planner cannot fold it
  -- into a join): right after a bulk load the statistics are stale, and a join planned on them scanned whole
  -- tables for every repayment, or tested each row against the whole id array during a million-loan seed.
  counted := ARRAY(SELECT was FROM unnest(ids) AS touched(id)
                   CROSS JOIN LATERAL (SELECT * FROM portfolio_loans WHERE loan_id = touched.id LIMIT 1) AS was);
  counts := ARRAY(
    SELECT ROW(loan.id, loan.currency,
               coalesce(schedule.oldest_unpaid_on,
                        CASE WHEN schedule.instalments = 0 AND loan.term_months IS NOT NULL
                             THEN (loan.disbursed_on + interval '1 month')::date END,
                        'infinity'),
               coalesce(schedule.outstanding, loan.amount))::portfolio_loans
    FROM unnest(ids) AS touched(id)
    CROSS JOIN LATERAL (SELECT id, currency, amount, term_months, disbursed_on FROM loans
                        WHERE loans.id = touched.id AND loans.status = 'disbursed' LIMIT 1) AS loan
    CROSS JOIN LATERAL (SELECT min(due_on) FILTER (WHERE principal + interest > paid_principal + paid_interest)
                                 AS oldest_unpaid_on,
                               count(*) AS instalments, sum(principal - paid_principal) AS outstanding
                        FROM instalments WHERE instalments.loan_id = touched.id) AS schedule);
  -- A loan whose figures did not move (a repayment of interest only) writes no row, and so leaves no dead tuple.
  gone := ARRAY(SELECT loan_id FROM unnest(counted) EXCEPT SELECT loan_id FROM unnest(counts));
  IF cardinality(gone) > 0 THEN
    DELETE FROM portfolio_loans WHERE loan_id = ANY(gone);
  END IF;
  INSERT INTO portfolio_loans AS kept SELECT * FROM unnest(counts)
  ON CONFLICT (loan_id) DO UPDATE
  SET currency = excluded.currency, oldest_unpaid_on = excluded.oldest_unpaid_on, outstanding = excluded.outstanding
  WHERE (kept.currency, kept.oldest_unpaid_on, kept.outstanding)
        IS DISTINCT FROM (excluded.currency, excluded.oldest_unpaid_on, excluded.outstanding);
  INSERT INTO portfolio_totals AS total (currency, oldest_unpaid_on, slot, loans, outstanding)
  SELECT change.currency, change.oldest_unpaid_on, pg_backend_pid() % 32, sum(change.loans), sum(change.outstanding)
  FROM (SELECT currency, oldest_unpaid_on, -1 AS loans, -outstanding AS outstanding FROM unnest(counted)
        UNION ALL SELECT currency, oldest_unpaid_on, 1, outstanding FROM unnest(counts)) AS change
  GROUP BY change.currency, change.oldest_unpaid_on
  HAVING sum(change.loans) <> 0 OR sum(change.outstanding) <> 0
  ORDER BY change.currency, change.oldest_unpaid_on
  ON CONFLICT (currency, oldest_unpaid_on, slot) DO UPDATE
  SET loans = total.loans + excluded.loans, outstanding = total.outstanding + excluded.outstanding;
END;
$$;--> statement-breakpoint
-- The loans whose portfolio figures a statement may have moved: any disbursed loan inserted or deleted, a loan
-- entering or leaving disbursed or changing what a loan without a schedule counts, and every loan whose
-- instalments changed. An update that moves none of that (a version bump) costs one join of its rows.
CREATE FUNCTION portfolio_follow_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ids uuid[];
BEGIN
  IF TG_TABLE_NAME = 'instalments' THEN
    IF TG_OP = 'DELETE' THEN
      ids := ARRAY(SELECT DISTINCT loan_id FROM old_instalments);
    ELSE
      ids := ARRAY(SELECT DISTINCT loan_id FROM new_instalments);
    END IF;
  ELSIF TG_OP = 'INSERT' THEN
    ids := ARRAY(SELECT id FROM new_loans WHERE status = 'disbursed');
  ELSIF TG_OP = 'DELETE' THEN
    ids := ARRAY(SELECT id FROM old_loans WHERE status = 'disbursed');
  ELSE
    ids := ARRAY(SELECT new_loans.id FROM new_loans JOIN old_loans ON old_loans.id = new_loans.id
                 WHERE (new_loans.status = 'disbursed' OR old_loans.status = 'disbursed')
                   AND (new_loans.status, new_loans.currency, new_loans.amount, new_loans.term_months,
                        new_loans.disbursed_on)
                       IS DISTINCT FROM (old_loans.status, old_loans.currency, old_loans.amount,
                                         old_loans.term_months, old_loans.disbursed_on));
  END IF;
  IF cardinality(ids) > 0 THEN
    PERFORM portfolio_follow(ids);
  END IF;
  RETURN NULL;
END;
$$;--> statement-breakpoint
CREATE TRIGGER portfolio_follow_loan_insert
AFTER INSERT ON "loans" REFERENCING NEW TABLE AS new_loans
FOR EACH STATEMENT EXECUTE FUNCTION portfolio_follow_changes();--> statement-breakpoint
CREATE TRIGGER portfolio_follow_loan_update
AFTER UPDATE ON "loans" REFERENCING OLD TABLE AS old_loans NEW TABLE AS new_loans
FOR EACH STATEMENT EXECUTE FUNCTION portfolio_follow_changes();--> statement-breakpoint
CREATE TRIGGER portfolio_follow_loan_delete
AFTER DELETE ON "loans" REFERENCING OLD TABLE AS old_loans
FOR EACH STATEMENT EXECUTE FUNCTION portfolio_follow_changes();--> statement-breakpoint
CREATE TRIGGER portfolio_follow_instalment_insert
AFTER INSERT ON "instalments" REFERENCING NEW TABLE AS new_instalments
FOR EACH STATEMENT EXECUTE FUNCTION portfolio_follow_changes();--> statement-breakpoint
CREATE TRIGGER portfolio_follow_instalment_update
AFTER UPDATE ON "instalments" REFERENCING OLD TABLE AS old_instalments NEW TABLE AS new_instalments
FOR EACH STATEMENT EXECUTE FUNCTION portfolio_follow_changes();--> statement-breakpoint
CREATE TRIGGER portfolio_follow_instalment_delete
AFTER DELETE ON "instalments" REFERENCING OLD TABLE AS old_instalments
FOR EACH STATEMENT EXECUTE FUNCTION portfolio_follow_changes();--> statement-breakpoint
-- Row and statement triggers do not see TRUNCATE: count again whatever is left (nothing, when loans went).
CREATE FUNCTION portfolio_rebuild() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM portfolio_totals;
  DELETE FROM portfolio_loans;
  PERFORM portfolio_follow(ARRAY(SELECT id FROM loans WHERE status = 'disbursed'));
  RETURN NULL;
END;
$$;--> statement-breakpoint
CREATE TRIGGER portfolio_rebuild_loans
AFTER TRUNCATE ON "loans"
FOR EACH STATEMENT EXECUTE FUNCTION portfolio_rebuild();--> statement-breakpoint
CREATE TRIGGER portfolio_rebuild_instalments
AFTER TRUNCATE ON "instalments"
FOR EACH STATEMENT EXECUTE FUNCTION portfolio_rebuild();--> statement-breakpoint
-- The disbursed loans already there. The triggers above already hold a lock that keeps writers out until this
-- commits.
SELECT portfolio_follow(ARRAY(SELECT id FROM loans WHERE status = 'disbursed'));
