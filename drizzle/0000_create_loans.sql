CREATE TABLE "loans" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"borrower_id" varchar(128) NOT NULL,
	"amount" numeric(12, 2) NOT NULL,
	"currency" char(3) NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"term_months" integer,
	"interest_rate_apr" numeric(5, 2),
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "loans_amount_range" CHECK ("loans"."amount" > 0 AND "loans"."amount" <= 50000),
	CONSTRAINT "loans_status_known" CHECK ("loans"."status" IN ('pending', 'approved', 'rejected', 'disbursed', 'repaid', 'defaulted')),
	CONSTRAINT "loans_currency_code" CHECK ("loans"."currency" ~ '^[A-Z]{3}$'),
	CONSTRAINT "loans_borrower_id_text" CHECK ("loans"."borrower_id" <> '' AND "loans"."borrower_id" !~ '[[:cntrl:]]'),
	CONSTRAINT "loans_term_months_range" CHECK ("loans"."term_months" BETWEEN 1 AND 360),
	CONSTRAINT "loans_interest_rate_range" CHECK ("loans"."interest_rate_apr" BETWEEN 0 AND 100)
);
--> statement-breakpoint
CREATE INDEX "loans_newest_first_idx" ON "loans" USING btree ("created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);