CREATE INDEX "usage_events_account_created_id_idx" ON "usage_events" USING btree ("account_id","created_at","id");--> statement-breakpoint
-- The new index is built before the one it replaces goes, so account listings always have one.
DROP INDEX "usage_events_account_created_idx";--> statement-breakpoint
CREATE INDEX "ledger_entries_created_idx" ON "ledger_entries" USING btree ("created_at");
