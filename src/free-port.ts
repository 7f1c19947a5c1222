import { createServer } from 'node:net';

/**
 * A port the kernel just handed out and released on 127.0.0.1, for starting another process on it (the test
 * suite's API processes, Caddy and Postgres, and the benchmark's servers); free unless something grabs it first.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port assigned'));
      });
    });
  });
}
