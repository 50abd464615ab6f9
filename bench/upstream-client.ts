// How much CPU one upstream call costs the gateway's process, by HTTP client: the fetch() call the
// OpenAI adapter makes (with its AbortSignal.any + AbortSignal.timeout and a body read through
// `new Response(stream)`), plain fetch(), and node:http with a keep-alive Agent (what bench/bare-proxy.ts
// uses). Talks to bench/upstream-stub.ts in a child process, so only the client side is in this process.
// Run: npx tsx bench/upstream-client.ts   (env: CLIENT_REQUESTS, default 20000; CLIENT_CONCURRENCY, default 32)
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chatBody } from './chat-body.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REQUESTS = Number(process.env.CLIENT_REQUESTS ?? 20_000);
const CONCURRENCY = Number(process.env.CLIENT_CONCURRENCY ?? 32);
const BODY = chatBody();

type Call = (url: string) => Promise<number>;

const agent = new Agent({ keepAlive: true });

const clients: Record<string, Call> = {
  // Mirrors src/providers/openai/index.ts + completeBuffered in src/proxy/chat-completions.ts.
  'fetch, as the OpenAI adapter first called it': async (url) => {
    const clientGone = new AbortController();
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-bench', 'content-type': 'application/json', accept: 'application/json' },
      body: BODY,
      signal: AbortSignal.any([clientGone.signal, AbortSignal.timeout(600_000)]),
    });
    const bytes = new Uint8Array(await new Response(response.body).arrayBuffer());
    return bytes.length;
  },
  'fetch, plain': async (url) => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
    return (await response.arrayBuffer()).byteLength;
  },
  'node:http + keep-alive Agent (the adapter now)': (url) =>
    new Promise((resolve, reject) => {
      const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(Buffer.concat(chunks).length));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(BODY);
    }),
};

async function measure(call: Call, url: string, requests: number): Promise<{ rps: number; cpuUsPerRequest: number }> {
  let next = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < requests) await call(url);
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (performance.now() - started) / 1000;
  return { rps: requests / seconds, cpuUsPerRequest: (cpu.user + cpu.system) / requests };
}

async function main(): Promise<void> {
  const stub = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'upstream-stub.ts')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      stub.once('message', (message: { port: number }) => resolve(message.port));
      stub.once('exit', (code) => reject(new Error(`the stub exited with code ${code}`)));
    });
    const url = `http://127.0.0.1:${port}/v1/chat/completions`;
    console.log(`upstream client cost: ${REQUESTS} non-stream calls per client, ${CONCURRENCY} at a time, node ${process.version}\n`);
    console.log('| client | calls/s | client CPU µs/call |');
    console.log('|---|---:|---:|');
    for (const [name, call] of Object.entries(clients)) {
      await measure(call, url, Math.min(2000, REQUESTS)); // warm-up: JIT and connections
      const { rps, cpuUsPerRequest } = await measure(call, url, REQUESTS);
      console.log(`| ${name} | ${Math.round(rps)} | ${Math.round(cpuUsPerRequest)} |`);
    }
  } finally {
    stub.kill('SIGTERM');
    agent.destroy();
  }
}

await main();
