CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"borrower_id" varchar(128),
	"key_hash" char(64) NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp(3) with time zone,
	"revoked_at" timestamp(3) with time zone,
	CONSTRAINT "api_keys_role_known" CHECK ("api_keys"."role" IN ('borrower', 'officer', 'admin')),
	CONSTRAINT "api_keys_borrower_matches_role" CHECK (("api_keys"."role" = 'borrower') = ("api_keys"."borrower_id" IS NOT NULL)),
	CONSTRAINT "api_keys_name_length" CHECK (char_length("api_keys"."name") BETWEEN 1 AND 100)
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"actor" text NOT NULL,
	"key" text NOT NULL,
	"fingerprint" char(64) NOT NULL,
	"status" smallint,
	"body" text,
	"headers" jsonb,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_actor_key_pk" PRIMARY KEY("actor","key")
);
--> statement-breakpoint
CREATE TABLE "instalments" (
	"loan_id" uuid NOT NULL,
	"number" smallint NOT NULL,
	"due_on" date NOT NULL,
	"principal" numeric(12, 2) NOT NULL,
	"interest" numeric(12, 2) NOT NULL,
	"paid_principal" numeric(12, 2) DEFAULT '0' NOT NULL,
	"paid_interest" numeric(12, 2) DEFAULT '0' NOT NULL,
	CONSTRAINT "instalments_loan_id_number_pk" PRIMARY KEY("loan_id","number"),
	CONSTRAINT "instalments_paid_within_due" CHECK ("instalments"."paid_principal" BETWEEN 0 AND "instalments"."principal" AND "instalments"."paid_interest" BETWEEN 0 AND "instalments"."interest")
);
--> statement-breakpoint
CREATE TABLE "loan_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"loan_id" uuid NOT NULL,
	"type" text NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"actor" text NOT NULL,
	"request_id" text,
	"reason" text,
	"amount" numeric(12, 2),
	"at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "loan_events_type_known" CHECK ("loan_events"."type" IN ('created', 'amended', 'approved', 'rejected', 'approval_undone', 'disbursed', 'disbursal_undone', 'repayment', 'repaid', 'written_off'))
);
--> statement-breakpoint
CREATE TABLE "repayments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"loan_id" uuid NOT NULL,
	"amount" numeric(12, 2) NOT NULL,
	"paid_on" date NOT NULL,
	"allocation" jsonb NOT NULL,
	"actor" text NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "repayments_amount_positive" CHECK ("repayments"."amount" > 0)
);
--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "disbursed_on" date;--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "created_by" text DEFAULT 'system' NOT NULL;--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "amended_by" text;--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "approved_by" text;--> statement-breakpoint
ALTER TABLE "instalments" ADD CONSTRAINT "instalments_loan_id_loans_id_fk" FOREIGN KEY ("loan_id") REFERENCES "public"."loans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "loan_events" ADD CONSTRAINT "loan_events_loan_id_loans_id_fk" FOREIGN KEY ("loan_id") REFERENCES "public"."loans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "repayments" ADD CONSTRAINT "repayments_loan_id_loans_id_fk" FOREIGN KEY ("loan_id") REFERENCES "public"."loans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_key_hash_idx" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "loan_events_loan_idx" ON "loan_events" USING btree ("loan_id","id");--> statement-breakpoint
CREATE INDEX "repayments_loan_idx" ON "repayments" USING btree ("loan_id","created_at","id");--> statement-breakpoint
CREATE INDEX "loans_status_newest_first_idx" ON "loans" USING btree ("status","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "loans_borrower_newest_first_idx" ON "loans" USING btree ("borrower_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
-- Loans from before v2: a disbursal date where the status needs one, and the created event, by the system.
ALTER TABLE "loans" DISABLE TRIGGER "loans_touch_updated_at";--> statement-breakpoint
UPDATE "loans" SET "disbursed_on" = ("updated_at" AT TIME ZONE 'UTC')::date
WHERE "status" IN ('disbursed', 'repaid', 'defaulted');--> statement-breakpoint
ALTER TABLE "loans" ENABLE TRIGGER "loans_touch_updated_at";--> statement-breakpoint
INSERT INTO "loan_events" ("loan_id", "type", "from_status", "to_status", "actor", "at")
SELECT "id", 'created', NULL, 'pending', 'system', "created_at" FROM "loans" ORDER BY "created_at", "id";--> statement-breakpoint
ALTER TABLE "loans" ADD CONSTRAINT "loans_disbursed_on_with_status" CHECK (("loans"."status" IN ('disbursed', 'repaid', 'defaulted')) = ("loans"."disbursed_on" IS NOT NULL));--> statement-breakpoint
-- The audit trail is append-only for every writer, this service or plain SQL: rows cannot change or go, and
-- TRUNCATE (which row triggers do not see) is refused by a statement trigger.
CREATE FUNCTION loan_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'loan_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;--> statement-breakpoint
CREATE TRIGGER loan_events_append_only
BEFORE UPDATE OR DELETE ON "loan_events"
FOR EACH ROW EXECUTE FUNCTION loan_events_refuse_change();--> statement-breakpoint
CREATE TRIGGER loan_events_no_truncate
BEFORE TRUNCATE ON "loan_events"
FOR EACH STATEMENT EXECUTE FUNCTION loan_events_refuse_change();