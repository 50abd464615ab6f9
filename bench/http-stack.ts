// CPU cost of the HTTP server stack alone, per request: node:http, Hono on @hono/node-server, and
// what src/app.ts adds around it (hono's bodyLimit on every route; the chat route reading
// c.req.raw.headers and c.req.raw.signal). The server runs in this process; autocannon runs as a
// child process (its CLI), so this process's CPU time is the server's alone.
// Run: npx tsx bench/http-stack.ts   (env: STACK_DURATION seconds, default 5; STACK_CONNECTIONS, default 32)
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serve } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(process.env.STACK_DURATION ?? 5);
const CONNECTIONS = Number(process.env.STACK_CONNECTIONS ?? 32);
const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello in ten words or fewer.' }], max_tokens: 64 });
const ANSWER = { id: 'chatcmpl-bench', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there' } }] };

type Variant = { name: string; start: () => Promise<Server> };

function honoApp(options: { bodyLimit: boolean; touchRaw: boolean }): Hono {
  const app = new Hono();
  if (options.bodyLimit) app.use('*', bodyLimit({ maxSize: 8 * 1024 * 1024 }) as MiddlewareHandler);
  app.post('/v1/chat/completions', async (c) => {
    const text = await c.req.text();
    if (options.touchRaw) {
      // What src/routes/v1/index.ts hands to the proxy core.
      void c.req.raw.headers.get('idempotency-key');
      c.req.raw.signal.addEventListener('abort', () => {}, { once: true });
    }
    return c.json({ ...ANSWER, bytes: text.length });
  });
  return app;
}

function listenHono(app: Hono): Promise<Server> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(server as Server));
  });
}

const variants: Variant[] = [
  {
    name: 'node:http, read body, JSON answer',
    start: () =>
      new Promise((resolve) => {
        const server = createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (chunk: Buffer) => chunks.push(chunk));
          req.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const body = JSON.stringify({ ...ANSWER, bytes: text.length });
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
          });
        });
        server.listen(0, '127.0.0.1', () => resolve(server));
      }),
  },
  { name: 'Hono (@hono/node-server), c.req.text(), c.json()', start: () => listenHono(honoApp({ bodyLimit: false, touchRaw: false })) },
  { name: '+ app-wide bodyLimit (as src/app.ts)', start: () => listenHono(honoApp({ bodyLimit: true, touchRaw: false })) },
  { name: '+ c.req.raw.headers and c.req.raw.signal (as the chat route)', start: () => listenHono(honoApp({ bodyLimit: true, touchRaw: true })) },
  { name: 'Hono without bodyLimit, + c.req.raw.headers and .signal', start: () => listenHono(honoApp({ bodyLimit: false, touchRaw: true })) },
];

async function load(url: string, seconds: number): Promise<{ requests: number; p50: number }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(ROOT, 'node_modules', 'autocannon', 'autocannon.js'), '-j', '-c', String(CONNECTIONS), '-d', String(seconds), '-m', 'POST', '-H', 'content-type=application/json', '-b', BODY, url],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout) as { requests: { total: number }; latency: { p50: number }; non2xx: number; errors: number };
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { requests: result.requests.total, p50: result.latency.p50 };
}

console.log(`HTTP server stack, server CPU per request: autocannon (child process) ${CONNECTIONS} connections, ${DURATION} s per variant, node ${process.version}\n`);
console.log('| server | req/s | server CPU µs/request |');
console.log('|---|---:|---:|');
for (const variant of variants) {
  const server = await variant.start();
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
  await load(url, 1); // warm-up
  const before = process.cpuUsage();
  const { requests } = await load(url, DURATION);
  const cpu = process.cpuUsage(before);
  console.log(`| ${variant.name} | ${Math.round(requests / DURATION)} | ${Math.round((cpu.user + cpu.system) / requests)} |`);
  server.closeAllConnections?.();
  await new Promise((resolve) => server.close(resolve));
}
