// Redis servers a test owns: its own redis-server on a free port (to kill, flush or restart without
// touching the shared one), or a local 3-master Redis Cluster. Each stops when the test says so.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface OwnRedis {
  port: number;
  url: string;
  /** Kills the server (SIGKILL: no shutdown save), keeping its directory, so start() can bring it back. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory (loading its AOF, if it has one). */
  start(): Promise<void>;
  /** A client of its own, for FLUSHALL and peeking (quit it when done). */
  client(): Redis;
  stop(): Promise<void>;
}

/** One redis-server on a free port: no RDB snapshots, AOF only when asked (fsync'd on every write unless told). */
export async function startOwnRedis(options: { appendonly?: boolean; appendfsync?: 'always' | 'everysec'; cluster?: boolean } = {}): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'tokengate-redis-'));
  let child: ChildProcess | undefined;
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--logfile', '',
    '--appendonly', options.appendonly ? 'yes' : 'no', '--appendfsync', options.appendfsync ?? 'always',
    ...(options.cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000'] : []),
  ];
  const start = async () => {
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    child = proc;
    await waitForPing(port);
  };
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    client: () => new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 }).on('error', () => {}),
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPing(port: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {}); // refused while it starts: the loop retries
    try {
      await probe.connect();
      // While it loads its AOF, Redis answers LOADING: not ready yet.
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server on port ${port} did not start`);
}

export interface OwnCluster {
  nodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/** Three masters, no replicas, slots spread by redis-cli --cluster create; ready when every node says ok. */
export async function startOwnCluster(): Promise<OwnCluster> {
  const servers = await Promise.all([0, 1, 2].map(() => startOwnRedis({ cluster: true })));
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  try {
    await run('redis-cli', ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const server of servers) {
      const client = server.client();
      try {
        for (let attempt = 0; !(await client.cluster('INFO')).includes('cluster_state:ok'); attempt++) {
          if (attempt > 200) throw new Error(`cluster node ${server.port} never reached cluster_state:ok`);
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      } finally {
        client.disconnect();
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: servers.map((s) => ({ host: '127.0.0.1', port: s.port })), stop };
}
