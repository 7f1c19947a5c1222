CREATE TABLE "loan_totals" (
	"status" text NOT NULL,
	"currency" char(3) NOT NULL,
	"slot" smallint NOT NULL,
	"loans" bigint NOT NULL,
	"amount" numeric NOT NULL,
	CONSTRAINT "loan_totals_status_currency_slot_pk" PRIMARY KEY("status","currency","slot")
);
--> statement-breakpoint
-- loan_totals follows every change of loans, by any writer. Statement triggers with transition tables: a bulk
-- INSERT ... SELECT adds one row per key, where a row trigger would update the same row once per loan. A writer
-- adds to the slot of its backend (pg_backend_pid() % 32), so concurrent writers rarely share a row lock, and
-- takes the keys in sorted order, so two writers never lock them in opposite orders.
CREATE FUNCTION loan_totals_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  changes loan_totals[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    changes := ARRAY(SELECT ROW(status, currency, 0, count(*), sum(amount))::loan_totals
                     FROM new_loans GROUP BY status, currency);
  ELSIF TG_OP = 'DELETE' THEN
    changes := ARRAY(SELECT ROW(status, currency, 0, -count(*), -sum(amount))::loan_totals
                     FROM old_loans GROUP BY status, currency);
  ELSE
    -- An update that moves no loan between keys and changes no amount (a version bump) touches nothing.
    changes := ARRAY(SELECT ROW(status, currency, 0, sum(loans), sum(amount))::loan_totals
                     FROM (SELECT status, currency, 1 AS loans, amount FROM new_loans
                           UNION ALL SELECT status, currency, -1, -amount FROM old_loans) AS moved
                     GROUP BY status, currency HAVING sum(loans) <> 0 OR sum(amount) <> 0);
  END IF;
  INSERT INTO loan_totals AS total (status, currency, slot, loans, amount)
  SELECT change.status, change.currency, pg_backend_pid() % 32, change.loans, change.amount
  FROM unnest(changes) AS change ORDER BY change.status, change.currency
  ON CONFLICT (status, currency, slot) DO UPDATE
  SET loans = total.loans + excluded.loans, amount = total.amount + excluded.amount;
  RETURN NULL;
END;
$$;--> statement-breakpoint
CREATE TRIGGER loan_totals_follow_insert
AFTER INSERT ON "loans" REFERENCING NEW TABLE AS new_loans
FOR EACH STATEMENT EXECUTE FUNCTION loan_totals_follow();--> statement-breakpoint
CREATE TRIGGER loan_totals_follow_update
AFTER UPDATE ON "loans" REFERENCING OLD TABLE AS old_loans NEW TABLE AS new_loans
FOR EACH STATEMENT EXECUTE FUNCTION loan_totals_follow();--> statement-breakpoint
CREATE TRIGGER loan_totals_follow_delete
AFTER DELETE ON "loans" REFERENCING OLD TABLE AS old_loans
FOR EACH STATEMENT EXECUTE FUNCTION loan_totals_follow();--> statement-breakpoint
-- Row triggers do not see TRUNCATE.
CREATE FUNCTION loan_totals_reset() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM loan_totals;
  RETURN NULL;
END;
$$;--> statement-breakpoint
CREATE TRIGGER loan_totals_reset
AFTER TRUNCATE ON "loans"
FOR EACH STATEMENT EXECUTE FUNCTION loan_totals_reset();--> statement-breakpoint
-- The loans already there. The triggers above already hold a lock that keeps writers out until this commits.
INSERT INTO "loan_totals" ("status", "currency", "slot", "loans", "amount")
SELECT "status", "currency", 0, count(*), sum("amount") FROM "loans" GROUP BY "status", "currency";
