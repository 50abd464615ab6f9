// A small, lazily started pool of worker threads that run tiktoken off the event loop for large prompts.
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { countTextBounded } from './tokenizer-pieces.js';
import type { TokenizerEncoding } from './tokenizer.js';

/**
 * The worker is an inline CommonJS script rather than a file next to this module: a file path would
 * differ between tsx (src/*.ts) and the build (dist/*.js), while an eval'd string works under both.
 * It counts texts with the same countTextBounded as the main thread (its source text is inlined;
 * `__name` is the helper tsx/esbuild insert into transpiled functions). Walking the request body
 * stays in the main thread. tiktoken is loaded by the absolute path resolved here, so the worker does
 * not depend on the process's working directory.
 */
const WORKER_SOURCE = `
const __name = (target) => target;
const countTextBounded = ${countTextBounded.toString()};
const { parentPort, workerData } = require('node:worker_threads');
const { get_encoding } = require(workerData.tiktokenPath);
const encoders = new Map();
function encoderFor(name) {
  let encoder = encoders.get(name);
  if (encoder === undefined) {
    encoder = get_encoding(name);
    encoders.set(name, encoder);
  }
  return encoder;
}
parentPort.on('message', (job) => {
  try {
    const encoder = encoderFor(job.encoding);
    let tokens = 0;
    const encode = (piece) => encoder.encode_ordinary(piece).length;
    for (const text of job.texts) tokens += countTextBounded(text, encode);
    parentPort.postMessage({ id: job.id, tokens });
  } catch (error) {
    parentPort.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) });
  }
});
`;

/** One worker leaves a core for the event loop on a 2-core machine; more cores get a second worker. */
const MAX_WORKERS = Math.max(1, Math.min(2, availableParallelism() - 1));

type WorkerReply = { id: number; tokens?: number; error?: string };
type PendingJob = { resolve: (tokens: number) => void; reject: (error: Error) => void };
type PooledWorker = {
  worker: Worker;
  pending: Map<number, PendingJob>;
  answered: boolean;
  terminating: boolean;
  lastError: Error | null;
};

const pool: PooledWorker[] = [];
let nextJobId = 1;
/** Set when a worker dies before ever answering: the environment cannot run it, so stop respawning. */
let brokenReason: string | null = null;

export function liveTokenizerWorkers(): number {
  return pool.length;
}

/** Counts the tokens of `texts` (countTextBounded) in a worker. Rejects if the worker fails. */
export function countTextsInWorker(texts: readonly string[], encoding: TokenizerEncoding): Promise<number> {
  if (brokenReason !== null) return Promise.reject(new Error(`tokenizer workers disabled: ${brokenReason}`));
  const pooled = pickWorker();
  const id = nextJobId++;
  return new Promise<number>((resolve, reject) => {
    // A worker is ref'd only while it has work, so an idle pool never keeps the process alive,
    // yet a script awaiting a count does not exit before the answer arrives.
    if (pooled.pending.size === 0) pooled.worker.ref();
    pooled.pending.set(id, { resolve, reject });
    pooled.worker.postMessage({ id, encoding, texts });
  });
}

/** Stops every worker; jobs still in flight reject (the caller then uses its cheap bound). */
export async function closeTokenizerWorkers(): Promise<void> {
  const closing = pool.splice(0, pool.length);
  await Promise.all(
    closing.map((pooled) => {
      pooled.terminating = true;
      return pooled.worker.terminate();
    }),
  );
}

function pickWorker(): PooledWorker {
  const idle = pool.find((pooled) => pooled.pending.size === 0);
  if (idle) return idle;
  if (pool.length < MAX_WORKERS) return startWorker();
  return pool.reduce((least, pooled) => (pooled.pending.size < least.pending.size ? pooled : least));
}

function startWorker(): PooledWorker {
  const tiktokenPath = createRequire(import.meta.url).resolve('tiktoken');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { tiktokenPath } });
  worker.unref();
  const pooled: PooledWorker = { worker, pending: new Map(), answered: false, terminating: false, lastError: null };
  worker.on('message', (reply: WorkerReply) => settle(pooled, reply));
  worker.on('error', (error) => {
    pooled.lastError = error;
  });
  worker.on('exit', (code) => onExit(pooled, code));
  pool.push(pooled);
  return pooled;
}

function settle(pooled: PooledWorker, reply: WorkerReply): void {
  const job = pooled.pending.get(reply.id);
  if (!job) return;
  pooled.pending.delete(reply.id);
  pooled.answered = true;
  if (pooled.pending.size === 0) pooled.worker.unref();
  if (typeof reply.tokens === 'number') job.resolve(reply.tokens);
  else job.reject(new Error(`tokenizer worker: ${reply.error ?? 'no token count in reply'}`));
}

function onExit(pooled: PooledWorker, code: number): void {
  const index = pool.indexOf(pooled);
  if (index !== -1) pool.splice(index, 1);
  const reason = pooled.terminating
    ? 'tokenizer worker was closed'
    : `tokenizer worker exited with code ${code}${pooled.lastError ? `: ${pooled.lastError.message}` : ''}`;
  if (!pooled.terminating && !pooled.answered) brokenReason = reason;
  for (const job of pooled.pending.values()) job.reject(new Error(reason));
  pooled.pending.clear();
}
