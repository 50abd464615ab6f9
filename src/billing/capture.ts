// Capturing a served request's cost. The hold store is the normal path (one atomic Redis step); when
// it cannot be reached — Redis lost between reserve and capture — the request was still served, so
// its settlement goes straight into Postgres instead: billed once either way (request id is unique).
import type { Db } from '../db/client.js';
import type { Logger } from '../log.js';
import { JournaledCaptureError } from './holds/durable-store.js';
import type { HoldStore, Settlement } from './holds/types.js';
import { balanceOf } from './ledger.js';
import { writeSettlements } from './settler.js';

export async function captureServed(holds: HoldStore, db: Db, log: Logger, settlement: Settlement): Promise<{ balanceTokens: number }> {
  try {
    return await holds.capture(settlement.requestId, settlement);
  } catch (storeError) {
    log.warn({ err: storeError, requestId: settlement.requestId }, 'capture failed; settling straight into Postgres');
    try {
      await writeSettlements(db, [settlement]);
    } catch (databaseError) {
      if (storeError instanceof JournaledCaptureError) {
        // Durable on this instance's disk: replayed into Redis when it answers again, billed once.
        log.warn({ err: databaseError, requestId: settlement.requestId }, 'Redis and Postgres unreachable; the capture waits in the local journal');
      } else {
        // Both stores are down and nothing kept it: the record below is all that is left to bill it from.
        log.error({ err: databaseError, settlement }, 'could not settle a served request anywhere; settle it from this log line');
      }
      throw storeError;
    }
    // Best effort, as the store may still be away: release the hold (else it expires with its TTL)
    // and drop the mirror so it reloads from Postgres.
    await holds.void(settlement.accountId, settlement.requestId).catch(() => undefined);
    await holds.invalidate(settlement.accountId).catch(() => undefined);
    return { balanceTokens: (await balanceOf(db, settlement.accountId)) ?? 0 };
  }
}
