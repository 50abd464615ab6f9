// The floor a gateway is compared with: a bare Node reverse proxy (node:http + a keep-alive Agent)
// that pipes the request and the response without parsing either. Runs as its own child process of
// bench/run.ts, forwards to UPSTREAM_URL (origin only; paths pass through) and reports its port over IPC.
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

const upstream = new URL(process.env.UPSTREAM_URL ?? '');
if (upstream.protocol !== 'http:') throw new Error('bare-proxy: UPSTREAM_URL must be an http:// URL');
const agent = new Agent({ keepAlive: true });

const server = createServer((req, res) => {
  const forwarded = request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  forwarded.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(forwarded);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.once('SIGTERM', () => process.exit(0));
process.once('disconnect', () => process.exit(0));
