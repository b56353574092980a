import http from 'node:http';
import https from 'node:https';

// Minimal HTTP(S) client for the suite: Node's fetch cannot trust an extra CA without undici
// internals, and the gateway's serving certificate chains to a root written at runtime.

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function httpRequest(
  url: string,
  opts: {
    method?: string;
    caPem?: string | Buffer;
    body?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
    /**
     * A connection of its own, closed after the answer. Node 20's global agent keeps connections
     * alive for 5 s, as long as the gateway does, so a poll every second can reuse one just as the
     * server closes it ("socket hang up").
     */
    freshConnection?: boolean;
  } = {},
): Promise<SimpleResponse> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers,
        ...(u.protocol === 'https:' && opts.caPem ? { ca: opts.caPem } : {}),
        ...(opts.freshConnection ? { agent: false } : {}),
        timeout: opts.timeoutMs ?? 5_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout requesting ${url}`)));
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
