import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

// http-01 responder for clients that run as separate processes and only write files (uacme's hook,
// dehydrated's WELLKNOWN): GET /.well-known/acme-challenge/<token> → the contents of <dir>/<token>.
// The in-process startHttp01Responder (acmeClient.ts) needs tokens set from the test, which a hook
// script in another process cannot do.

export interface WebrootResponder {
  port: number;
  /** Directory the client writes `<token>` files into. */
  dir: string;
  /** Tokens that were fetched and found (i.e. the gateway really validated over http-01). */
  served(): string[];
  close(): Promise<void>;
}

const PREFIX = '/.well-known/acme-challenge/';
// RFC 8555 §8.3: tokens are base64url; anything else (e.g. "../") is never mapped to a file.
const TOKEN = /^[A-Za-z0-9_-]+$/;

export function startWebrootResponder(port: number, dir: string, host = '127.0.0.1'): Promise<WebrootResponder> {
  fs.mkdirSync(dir, { recursive: true });
  const served = new Set<string>();
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    const token = url.startsWith(PREFIX) ? url.slice(PREFIX.length) : '';
    let body: string | undefined;
    if (TOKEN.test(token)) {
      try {
        body = fs.readFileSync(path.join(dir, token), 'utf8');
      } catch {
        body = undefined;
      }
    }
    if (body === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    served.add(token);
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({
        port,
        dir,
        served: () => [...served],
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
