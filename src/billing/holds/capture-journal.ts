// A local append-only record of every capture until Postgres has it, so no loss of Redis data loses a
// charge. Appends are group-committed: each batch is one write and one fdatasync, and a capture counts
// as durable when its batch is synced. Also the outbox of mirror resets that Redis refused.
//
// Lines (JSON): {t:'c', h: holdId, s: settlement} a capture; {t:'d', r: [requestIds]} those are in
// Postgres; {t:'i', a: accountId} the account's mirror must be reset; {t:'j', a} it was.
// One process owns a journal: a lock file next to it names the owner's pid.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Settlement } from './types.js';

export interface JournaledCapture {
  holdId: string;
  settlement: Settlement;
}

type Line =
  | { t: 'c'; h: string; s: Settlement }
  | { t: 'd'; r: string[] }
  | { t: 'i'; a: string }
  | { t: 'j'; a: string };

interface Waiter {
  text: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const COMPACT_AFTER_BYTES = 4 * 1024 * 1024;

export class CaptureJournal {
  private readonly captures = new Map<string, JournaledCapture>(); // by request id, not yet in Postgres
  private readonly owedResets = new Set<string>();
  private handle: FileHandle | undefined;
  private queue: Waiter[] = [];
  private writing: Promise<void> | undefined;
  private draining = false;
  private bytesSinceCompaction = 0;

  private constructor(
    private readonly file: string,
    private readonly lockFile: string,
  ) {}

  /** Opens (or creates) the journal, taking its lock; what it holds from a previous run is kept. */
  static async open(file: string): Promise<CaptureJournal> {
    mkdirSync(path.dirname(file), { recursive: true });
    const journal = new CaptureJournal(file, `${file}.lock`);
    journal.lock();
    if (existsSync(file)) journal.load(readFileSync(file, 'utf8'));
    await journal.compact();
    return journal;
  }

  /** Durable when this resolves: the line is on disk (fdatasync). */
  append(holdId: string, settlement: Settlement): Promise<void> {
    this.captures.set(settlement.requestId, { holdId, settlement });
    return this.write({ t: 'c', h: holdId, s: settlement });
  }

  /** These are in Postgres: forget them (the line need not be synced: replaying them again is harmless). */
  async committed(requestIds: string[]): Promise<void> {
    const known = requestIds.filter((id) => this.captures.delete(id));
    if (known.length > 0) await this.write({ t: 'd', r: known });
  }

  /** The outbox: this account's mirror must be reset when Redis answers again. */
  oweReset(accountId: string): Promise<void> {
    this.owedResets.add(accountId);
    return this.write({ t: 'i', a: accountId });
  }

  async resetDone(accountId: string): Promise<void> {
    if (this.owedResets.delete(accountId)) await this.write({ t: 'j', a: accountId });
  }

  uncommitted(): JournaledCapture[] {
    return [...this.captures.values()];
  }

  owed(): string[] {
    return [...this.owedResets];
  }

  async close(): Promise<void> {
    await this.writing;
    await this.handle?.close();
    this.handle = undefined;
    if (existsSync(this.lockFile)) unlinkSync(this.lockFile);
  }

  private write(line: Line): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ text: `${JSON.stringify(line)}\n`, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        this.writing = this.drain();
      }
    });
  }

  /**
   * One writer: each pass writes everything queued so far in one write and one fdatasync. It clears
   * `draining` in the same synchronous step that finds the queue empty, so no line is left behind.
   */
  private async drain(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        this.draining = false;
        return;
      }
      const batch = this.queue;
      this.queue = [];
      try {
        const text = batch.map((waiter) => waiter.text).join('');
        this.handle ??= await open(this.file, 'a');
        await this.handle.write(text);
        await this.handle.datasync();
        this.bytesSinceCompaction += text.length;
        for (const waiter of batch) waiter.resolve();
      } catch (error) {
        for (const waiter of batch) waiter.reject(error);
      }
      if (this.bytesSinceCompaction > COMPACT_AFTER_BYTES) await this.compact().catch(() => undefined); // retried after the next batch
    }
  }

  /** Rewrites the file with only what is still owed (write, fsync, rename: a crash keeps one or the other). */
  private async compact(): Promise<void> {
    const lines: Line[] = [
      ...[...this.captures.values()].map(({ holdId, settlement }): Line => ({ t: 'c', h: holdId, s: settlement })),
      ...[...this.owedResets].map((a): Line => ({ t: 'i', a })),
    ];
    await this.handle?.close();
    this.handle = undefined;
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    } finally {
      closeSync(fd);
    }
    const handle = await open(tmp, 'r+');
    await handle.sync();
    await handle.close();
    renameSync(tmp, this.file);
    this.bytesSinceCompaction = 0;
  }

  /** Skips lines that do not parse: only the last can be torn, by a crash mid-append. */
  private load(text: string): void {
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue;
      }
      if (line.t === 'c') this.captures.set(line.s.requestId, { holdId: line.h, settlement: line.s });
      else if (line.t === 'd') for (const id of line.r) this.captures.delete(id);
      else if (line.t === 'i') this.owedResets.add(line.a);
      else if (line.t === 'j') this.owedResets.delete(line.a);
    }
  }

  /** A second process on the same journal would replay and compact under the first one's feet. */
  private lock(): void {
    if (existsSync(this.lockFile)) {
      const owner = Number(readFileSync(this.lockFile, 'utf8').trim());
      if (Number.isSafeInteger(owner) && owner !== process.pid && isAlive(owner)) {
        throw new Error(`the capture journal ${this.file} is in use by process ${owner}: give each instance its own DATA_DIR`);
      }
    }
    writeFileSync(this.lockFile, String(process.pid));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
