// The capture journal: what a crashed process left is there at the next open; what Postgres has is
// forgotten; the outbox of mirror resets survives too; two live processes never share one journal.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureJournal } from '../../src/billing/holds/capture-journal.js';
import { settlementFor } from '../helpers/settlements.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tokengate-capture-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CaptureJournal', () => {
  it('keeps uncommitted captures and owed resets across a crash, and forgets committed ones', async () => {
    const file = path.join(dir, 'a.jsonl');
    const journal = await CaptureJournal.open(file);
    const [one, two, three] = [settlementFor('acct-1', 10), settlementFor('acct-1', 20), settlementFor('acct-2', 30)];
    await Promise.all([journal.append('h1', one), journal.append('h2', two), journal.append('h3', three)]);
    await journal.committed([two.requestId, 'unknown']);
    await journal.oweReset('acct-9');
    await journal.oweReset('acct-8');
    await journal.resetDone('acct-8');
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"t":"c","h":"torn`); // a crash mid-append

    // No close(): the process died. The same pid may reopen it (a restart reuses nothing else).
    const reopened = await CaptureJournal.open(file);
    expect(reopened.uncommitted().map((c) => [c.holdId, c.settlement.requestId]).sort()).toEqual([['h1', one.requestId], ['h3', three.requestId]].sort());
    expect(reopened.owed()).toEqual(['acct-9']);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(3); // compacted
    await reopened.close();
  });

  it('refuses a journal another live process holds', async () => {
    const file = path.join(dir, 'b.jsonl');
    writeFileSync(`${file}.lock`, String(process.ppid)); // the test runner's parent is alive
    await expect(CaptureJournal.open(file)).rejects.toThrow(/in use by process/);
    writeFileSync(`${file}.lock`, '999999999'); // a dead owner: taken over
    const journal = await CaptureJournal.open(file);
    await journal.close();
  });
});
