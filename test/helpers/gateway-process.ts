// Gateways as separate processes (`node --import tsx src/server.ts`), for fault tests where an instance
// must keep running (or be seen to die) while its Postgres or Redis fails; and a load of clients on them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  /** Every log line so far (JSON text). */
  logs: string[];
  alive(): boolean;
  stop(): Promise<void>;
}

export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tokengate-proc-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    logs.push(...lines.filter((line) => line.trim() !== ''));
    // TOKENGATE_TEST_LOGS=1 shows the children's logs (less the request lines) while a test runs.
    if (process.env.TOKENGATE_TEST_LOGS) for (const line of lines) if (!line.includes('"msg":"request"')) process.stderr.write(`[${port}] ${line}\n`);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const url = `http://127.0.0.1:${port}`;
  const alive = () => child.exitCode === null && child.signalCode === null;
  for (let attempt = 0; ; attempt++) {
    if (!alive()) throw new Error(`gateway exited at start: ${logs.slice(-5).join('\n')}`);
    if (attempt > 600) throw new Error('gateway did not answer /healthz within 30 s');
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    child,
    logs,
    alive,
    stop: async () => {
      if (alive()) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  requestId: string | null;
  cost: number;
}

export interface Load {
  answers: Answer[];
  /** Answers with status 200 so far. */
  served(): Answer[];
  stop(): Promise<Answer[]>;
}

/** `clients` loops, each sending non-stream chat requests to the gateways in turn until stopped. */
export function startLoad(urls: string[], key: string, clients = 6): Load {
  const answers: Answer[] = [];
  let running = true;
  const loop = async (client: number) => {
    for (let n = client; running; n++) {
      const url = urls[n % urls.length]!;
      try {
        const response = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-mock-output-tokens': '5' },
          body: JSON.stringify({ model: 'mock', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
          signal: AbortSignal.timeout(5_000),
        });
        await response.arrayBuffer();
        answers.push({ status: response.status, requestId: response.headers.get('x-request-id'), cost: Number(response.headers.get('x-tokengate-cost') ?? 0) });
        if (response.status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
      } catch {
        answers.push({ status: 0, requestId: null, cost: 0 }); // no answer: not served
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const loops = Array.from({ length: clients }, (_, client) => loop(client));
  return {
    answers,
    served: () => answers.filter((a) => a.status === 200),
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return answers;
    },
  };
}

/** Resolves when `condition` holds, polling; fails after `ms` with `what`. */
export async function eventually(what: string, condition: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until the load has had `count` more answers with status 200. */
export async function servedMore(load: Load, count: number, ms = 20_000): Promise<void> {
  const target = load.served().length + count;
  await eventually(`${count} more requests are served`, () => load.served().length >= target, ms);
}
