// Fails the run at once, with one clear line, when the real Postgres or Redis the suite needs is down.
import net from 'node:net';

const services = [
  { name: 'Postgres', host: '127.0.0.1', port: Number(process.env.TEST_PG_PORT ?? 5432) },
  { name: 'Redis', host: '127.0.0.1', port: Number(process.env.TEST_REDIS_PORT ?? 6379) },
];

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2_000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

export default async function setup(): Promise<void> {
  for (const service of services) {
    if (!(await reachable(service.host, service.port))) {
      throw new Error(`${service.name} is not answering on ${service.host}:${service.port}; the tests need it (bash .ci/run starts it).`);
    }
  }
}
