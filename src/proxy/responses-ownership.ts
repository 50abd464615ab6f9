// Which account created each stored response (stored_responses) and its output items
// (stored_response_items). The provider stores responses under the operator's one account, so this is
// what keeps account A away from account B's responses: every read filters by the caller's account.
import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { storedResponseItems, storedResponses } from '../db/schema.js';

export type OwnedResponse = typeof storedResponses.$inferSelect;

export interface NewOwnedResponse {
  id: string;
  accountId: string;
  requestId: string;
  model: string;
  provider: string;
}

/** What a finished response adds when a later request continues from it. */
export interface FinishedResponse {
  /** Its usage; null when it reported none. */
  inputTokens: number | null;
  outputTokens: number | null;
  /** Its output item ids, which later requests may name in `item_reference`. */
  itemIds: string[];
}

export class ResponseOwnership {
  constructor(private readonly db: Db) {}

  /** The response if this account created it; null otherwise (whether it exists or not). */
  async find(accountId: string, responseId: string): Promise<OwnedResponse | null> {
    const [row] = await this.db
      .select()
      .from(storedResponses)
      .where(and(eq(storedResponses.id, responseId), eq(storedResponses.accountId, accountId)));
    return row ?? null;
  }

  /**
   * The responses behind the items this account may reference, with their output tokens. Items of
   * other accounts, or unknown to the gateway, are in `missing`.
   */
  async referencedItems(accountId: string, itemIds: readonly string[]): Promise<{ missing: string[]; outputTokens: Map<string, number | null> }> {
    const unique = [...new Set(itemIds)];
    if (unique.length === 0) return { missing: [], outputTokens: new Map() };
    const rows = await this.db
      .select({ itemId: storedResponseItems.id, responseId: storedResponses.id, outputTokens: storedResponses.outputTokens })
      .from(storedResponseItems)
      .innerJoin(storedResponses, eq(storedResponses.id, storedResponseItems.responseId))
      .where(and(inArray(storedResponseItems.id, unique), eq(storedResponseItems.accountId, accountId), eq(storedResponses.accountId, accountId)));
    const found = new Set(rows.map((row) => row.itemId));
    return {
      missing: unique.filter((id) => !found.has(id)),
      outputTokens: new Map(rows.map((row) => [row.responseId, row.outputTokens])),
    };
  }

  /** Records the creator of a response as soon as its id is known; the first record of an id wins. */
  async record(response: NewOwnedResponse, finished?: FinishedResponse): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx
        .insert(storedResponses)
        .values({ ...response, inputTokens: finished?.inputTokens ?? null, outputTokens: finished?.outputTokens ?? null })
        .onConflictDoNothing();
      if (finished) await insertItems(tx, response.accountId, response.id, finished.itemIds);
    });
  }

  /** A recorded response finished: its usage and output items. */
  async finish(accountId: string, responseId: string, finished: FinishedResponse): Promise<void> {
    await this.db.transaction(async (tx) => {
      const updated = await tx
        .update(storedResponses)
        .set({ inputTokens: finished.inputTokens, outputTokens: finished.outputTokens })
        .where(and(eq(storedResponses.id, responseId), eq(storedResponses.accountId, accountId)))
        .returning({ id: storedResponses.id });
      if (updated.length > 0) await insertItems(tx, accountId, responseId, finished.itemIds);
    });
  }

  /** Forgets a response the provider deleted (its items go with it). */
  async remove(accountId: string, responseId: string): Promise<void> {
    await this.db.delete(storedResponses).where(and(eq(storedResponses.id, responseId), eq(storedResponses.accountId, accountId)));
  }
}

type Executor = Pick<Db, 'insert'>;

async function insertItems(tx: Executor, accountId: string, responseId: string, itemIds: readonly string[]): Promise<void> {
  const unique = [...new Set(itemIds)];
  if (unique.length === 0) return;
  await tx
    .insert(storedResponseItems)
    .values(unique.map((id) => ({ id, responseId, accountId })))
    .onConflictDoNothing();
}
