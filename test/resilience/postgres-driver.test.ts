// postgres.js 3.4.9 throws from a setImmediate callback when a connection closes under a pending
// write (porsager/postgres#1154, #1208): an uncaught TypeError that kills the process. tokengate
// installs a patched build (vendor/postgres-3.4.9-tokengate.2.patch). These run the driver in a child
// process, so a crash shows as a non-zero exit instead of taking the test runner down.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PG_ADMIN_URL } from '../helpers/harness.js';

function runChild(script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, PG_URL: PG_ADMIN_URL } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

// Each script kills only the backend of its own connection, through a second connection of its own.
const prelude = `
import postgres from 'postgres';
const sql = postgres(process.env.PG_URL, { max: 2, onnotice: () => {} });
const killer = postgres(process.env.PG_URL, { max: 1, onnotice: () => {} });
const waitFor = async (get) => { while (get() === null) await new Promise((r) => setTimeout(r, 20)); };
`;

describe('patched postgres.js', () => {
  it('a transaction whose backend dies rejects with CONNECTION_CLOSED; the process and the pool go on', async () => {
    const { code, output } = await runChild(`${prelude}
let pid = null;
const tx = sql.begin(async (t) => {
  pid = (await t\`select pg_backend_pid() as pid\`)[0].pid;
  await t\`select pg_sleep(3)\`;
});
await waitFor(() => pid);
await killer\`select pg_terminate_backend(\${pid})\`;
console.log('tx:', await tx.then(() => 'committed', (e) => e.code));
console.log('next:', (await sql\`select 41 + 1 as n\`)[0].n);
await Promise.race([Promise.all([sql.end(), killer.end()]), new Promise((_, no) => setTimeout(() => no(new Error('end() hung')), 5000).unref())]);
console.log('ended');
`);
    expect(output).not.toContain('TypeError');
    expect(output).toContain('tx: CONNECTION_CLOSED');
    expect(output).toContain('next: 42');
    expect(output).toContain('ended');
    expect(code).toBe(0);
  });

  it('a reserved connection whose backend dies rejects its queries instead of crashing; the pool goes on', async () => {
    const { code, output } = await runChild(`${prelude}
const reserved = await sql.reserve();
const pid = (await reserved\`select pg_backend_pid() as pid\`)[0].pid;
const sleeping = reserved\`select pg_sleep(3)\`.then(() => 'done', (e) => e.code);
await killer\`select pg_terminate_backend(\${pid})\`;
console.log('in flight:', await sleeping);
console.log('after:', await reserved\`select 1\`.then(() => 'ok', (e) => e.code));
reserved.release();
let n = null;
for (let attempt = 0; n === null && attempt < 5; attempt++) n = await sql\`select 7 as n\`.then((rows) => rows[0].n, () => null);
console.log('pool:', n);
await Promise.race([Promise.all([sql.end(), killer.end()]), new Promise((_, no) => setTimeout(() => no(new Error('end() hung')), 5000).unref())]);
console.log('ended');
`);
    expect(output).not.toContain('TypeError');
    expect(output).toContain('in flight: CONNECTION_CLOSED');
    expect(output).toContain('after: CONNECTION_CLOSED');
    expect(output).toContain('pool: 7');
    expect(output).toContain('ended');
    expect(code).toBe(0);
  });

  it('a connection reset while it fetches array types (right after connecting) is retried, not an unhandled rejection', async () => {
    // postgres.js starts its type query from a message handler without awaiting it: a reset then
    // rejected a promise nobody held, and Node ends the process on an unhandled rejection (seen as a
    // gateway dying in postgres-faults.test.ts when Postgres came back between cuts).
    const { code, output } = await runChild(`
import net from 'node:net';
import postgres from 'postgres';
const target = new URL(process.env.PG_URL);
let resets = 0;
const proxy = net.createServer((client) => {
  const upstream = net.connect(Number(target.port), target.hostname);
  client.on('data', (bytes) => {
    if (resets === 0 && bytes.includes('typarray')) {
      resets++;
      client.resetAndDestroy();
      upstream.destroy();
      return;
    }
    upstream.write(bytes);
  });
  upstream.on('data', (bytes) => client.write(bytes));
  client.on('error', () => {});
  upstream.on('error', () => {});
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const url = new URL(process.env.PG_URL);
url.host = '127.0.0.1:' + proxy.address().port;
const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
console.log('first:', await sql\`select 41 + 1 as n\`.then((rows) => rows[0].n, (e) => e.code));
console.log('resets:', resets);
console.log('next:', (await sql\`select 2 + 5 as n\`)[0].n);
await Promise.race([sql.end(), new Promise((_, no) => setTimeout(() => no(new Error('end() hung')), 5000).unref())]);
proxy.close();
console.log('ended');
`);
    // The query that opened the connection may fail with the reset (its caller sees it); nothing else may.
    expect(output).toMatch(/first: (42|ECONNRESET)\n/);
    expect(output).not.toMatch(/Error: read ECONNRESET|triggerUncaughtException/);
    expect(output).toContain('resets: 1');
    expect(output).toContain('next: 7');
    expect(output).toContain('ended');
    expect(code).toBe(0);
  });
});
