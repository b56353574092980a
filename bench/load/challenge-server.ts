import http from 'node:http';
import type { AddressInfo } from 'node:net';

// The http-01 responder (RFC 8555 §8.3): GET /.well-known/acme-challenge/<token> answers the key
// authorization registered for that token. The server under test connects here because the bench
// sets its validation port to this server's port and its DNS answers 127.0.0.1 for every name.

const PREFIX = '/.well-known/acme-challenge/';

export interface ChallengeServer {
  port: number;
  set(token: string, keyAuthorization: string): void;
  delete(token: string): void;
  /** Challenge fetches served so far (a validator may fetch more than once). */
  readonly served: number;
  close(): Promise<void>;
}

export async function startChallengeServer(host = '127.0.0.1'): Promise<ChallengeServer> {
  const tokens = new Map<string, string>();
  let served = 0;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const token = path.startsWith(PREFIX) ? decodeURIComponent(path.slice(PREFIX.length)) : undefined;
    const keyAuthorization = token === undefined ? undefined : tokens.get(token);
    if (req.method !== 'GET' || keyAuthorization === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    served++;
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end(keyAuthorization);
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    set: (token, keyAuthorization) => void tokens.set(token, keyAuthorization),
    delete: (token) => void tokens.delete(token),
    get served() {
      return served;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
