CREATE TABLE "stored_response_items" (
	"id" text PRIMARY KEY NOT NULL,
	"response_id" text NOT NULL,
	"account_id" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stored_responses" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"request_id" text NOT NULL,
	"model" text NOT NULL,
	"provider" text NOT NULL,
	"input_tokens" integer,
	"output_tokens" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "stored_response_items" ADD CONSTRAINT "stored_response_items_response_id_stored_responses_id_fk" FOREIGN KEY ("response_id") REFERENCES "public"."stored_responses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stored_response_items" ADD CONSTRAINT "stored_response_items_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stored_responses" ADD CONSTRAINT "stored_responses_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "stored_response_items_response_idx" ON "stored_response_items" USING btree ("response_id");--> statement-breakpoint
CREATE INDEX "stored_responses_account_created_idx" ON "stored_responses" USING btree ("account_id","created_at");