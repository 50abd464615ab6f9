CREATE TABLE "auto_recharge_attempts" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"package_id" text NOT NULL,
	"tokens" bigint NOT NULL,
	"amount_cents" integer NOT NULL,
	"currency" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"payment_intent_id" text,
	"error_code" text,
	"error_message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "auto_recharge_status_check" CHECK ("auto_recharge_attempts"."status" in ('pending', 'succeeded', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "stripe_reversals" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"payment_intent_id" text NOT NULL,
	"charge_id" text,
	"amount_cents" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"account_id" text,
	"tokens" bigint,
	"restored" boolean DEFAULT false NOT NULL,
	"suspended_account" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "auto_recharge_failures" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "auto_recharge_last_error" jsonb;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "auto_recharge_retry_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "stripe_events" ADD COLUMN "account_id" text;--> statement-breakpoint
ALTER TABLE "auto_recharge_attempts" ADD CONSTRAINT "auto_recharge_attempts_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stripe_reversals" ADD CONSTRAINT "stripe_reversals_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "auto_recharge_one_pending_idx" ON "auto_recharge_attempts" USING btree ("account_id") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "auto_recharge_account_created_idx" ON "auto_recharge_attempts" USING btree ("account_id","created_at");--> statement-breakpoint
CREATE INDEX "stripe_reversals_payment_intent_idx" ON "stripe_reversals" USING btree ("payment_intent_id");--> statement-breakpoint
CREATE INDEX "stripe_reversals_account_idx" ON "stripe_reversals" USING btree ("account_id");