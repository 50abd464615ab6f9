// A port nothing listens on right now: bound on 127.0.0.1:0 by us, then released. Used to start a
// child server on a known port, or as an address that refuses connections.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
