// Is the gateway's growing resident memory under load (bench/run.ts prints it) a leak? Runs rounds of
// load against an in-process gateway (test harness: real Postgres and Redis) and prints the heap after
// a forced GC each round: flat heapUsed means the growth is only V8 sizing its heap, not retained objects.
// Run: node --expose-gc --import tsx bench/heap-check.ts [stream]   (env: HEAP_ROUNDS, default 6; HEAP_SECONDS, default 5)
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { accountWithBalance, keyFor } from '../test/helpers/factories.js';
import { startTestGateway } from '../test/helpers/harness.js';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const ROUNDS = Number(process.env.HEAP_ROUNDS ?? 6);
const SECONDS = Number(process.env.HEAP_SECONDS ?? 5);
const stream = process.argv[2] === 'stream';
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) {
  process.stderr.write('run with node --expose-gc --import tsx bench/heap-check.ts\n');
  process.exit(2);
}

const stub = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'upstream-stub.ts')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const port = await new Promise<number>((resolve) => stub.once('message', (message: { port: number }) => resolve(message.port)));
const gw = await startTestGateway({ env: { OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`, OPENAI_API_KEY: 'sk-bench' } });
try {
  const key = await keyFor(gw, await accountWithBalance(gw, 1_000_000_000_000));
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 64, ...(stream ? { stream: true } : {}) });
  console.log(`heap after a forced GC, ${stream ? 'stream' : 'non-stream'} chat load in rounds of ${SECONDS} s (autocannon child, 32 connections):`);
  for (let round = 1; round <= ROUNDS; round++) {
    // Asynchronous on purpose: the gateway answers from this process's event loop.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'node_modules', 'autocannon', 'autocannon.js'), '-j', '-c', '32', '-d', String(SECONDS), '-m', 'POST',
        '-H', 'content-type=application/json', '-H', `authorization=Bearer ${key}`, '-b', body, `${gw.url}/v1/chat/completions`],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const result = JSON.parse(stdout) as { '2xx': number; non2xx: number; errors: number; statusCodeStats: unknown };
    const served = result['2xx'];
    if (served === 0) throw new Error(`no 2xx responses: ${JSON.stringify({ non2xx: result.non2xx, errors: result.errors, codes: result.statusCodeStats })}`);
    while ((await gw.gateway.deps.settler.flushOnce()) > 0);
    collect();
    await new Promise((resolve) => setTimeout(resolve, 200));
    collect();
    const memory = process.memoryUsage();
    const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
    console.log(`  round ${round}: ${served} responses; heapUsed ${mib(memory.heapUsed)} MiB, external ${mib(memory.external)} MiB, rss ${mib(memory.rss)} MiB`);
  }
} finally {
  await gw.stop();
  stub.kill('SIGTERM');
}
process.exit(0);
