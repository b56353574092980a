import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningListener } from '../../src/http/listener.js';
import { createLogger } from '../../src/platform/logger.js';
import { startTestGateway, type TestGateway } from '../harness.js';

// The listener's limits, on a real socket (src/http/listener.ts): over-large or too many headers,
// bytes that are not HTTP, slow clients. Each gets a problem document and a closed connection, and
// none of them reaches the app as an "unhandled error". Timeouts are shortened for the test.

const HEADERS_TIMEOUT_MS = 300;
const REQUEST_TIMEOUT_MS = 600;

let t: TestGateway;
let server: RunningListener;
const logLines: string[] = [];

beforeAll(async () => {
  const destination = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  t = await startTestGateway({ overrides: { logger: createLogger({ level: 'warn', destination }) } });
  server = await listen(t.gw.app as never, {
    host: '127.0.0.1',
    port: 0,
    tls: null,
    limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS },
  });
});
afterAll(async () => {
  await server?.close();
  await t?.dispose();
});

interface Exchange {
  /** Everything the server sent before closing. */
  raw: string;
  status: number | null;
  headers: Record<string, string>;
  body: any;
  /** ms from connecting to the server closing the connection. */
  closedAfterMs: number;
}

/** Opens a socket, lets `drive` write to it, and collects what comes back until the server closes it. */
function exchange(drive: (s: Socket) => void, giveUpMs = 5_000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const s = connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`the server kept the connection open for ${giveUpMs} ms`));
    }, giveUpMs);
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => undefined); // a reset after the answer is fine
    s.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      let body: unknown = rest.join('\r\n\r\n');
      try {
        body = JSON.parse(body as string);
      } catch {
        /* not JSON */
      }
      const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1];
      resolve({ raw, status: status ? Number(status) : null, headers, body, closedAfterMs: Date.now() - started });
    });
    s.on('connect', () => drive(s));
  });
}

function expectProblemClosed(x: Exchange, status: number, detail: RegExp): void {
  expect(x.status, x.raw).toBe(status);
  expect(x.headers['content-type']).toBe('application/problem+json');
  expect(x.headers.connection).toBe('close');
  expect(x.body).toMatchObject({ type: 'urn:ietf:params:acme:error:malformed', status });
  expect(x.body.detail).toMatch(detail);
}

const request = (headers: string[], body = '') => `POST /new-order HTTP/1.1\r\nHost: acme.test\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`;

describe('header limits', () => {
  it('headers over 16 KiB → 431 problem, connection closed', async () => {
    const x = await exchange((s) => s.write(request([`X-Big: ${'a'.repeat(17 * 1024)}`])));
    expectProblemClosed(x, 431, /request line and headers are too large/);
  });

  it('a 16 KiB request line → 431 problem', async () => {
    const x = await exchange((s) => s.write(`GET /${'a'.repeat(17 * 1024)} HTTP/1.1\r\nHost: acme.test\r\n\r\n`));
    expectProblemClosed(x, 431, /too large/);
  });

  it('101 header fields → 431 problem; 100 are served', async () => {
    const many = (n: number) => Array.from({ length: n - 1 }, (_, i) => `X-H${i}: v`);
    const over = await exchange((s) => s.write(`GET /directory HTTP/1.1\r\nHost: acme.test\r\n${many(101).join('\r\n')}\r\n\r\n`));
    expectProblemClosed(over, 431, /more than 100 header fields/);
    const at = await exchange((s) => s.write(`GET /directory HTTP/1.1\r\nHost: acme.test\r\nConnection: close\r\n${many(99).join('\r\n')}\r\n\r\n`));
    expect(at.status, at.raw).toBe(200);
  });

  it('an HTTP/1.1 request without Host → 400 problem', async () => {
    const x = await exchange((s) => s.write('GET /directory HTTP/1.1\r\n\r\n'));
    expectProblemClosed(x, 400, /must carry a Host header/);
  });

  it('bytes that are not HTTP → 400 problem', async () => {
    const x = await exchange((s) => s.write('\u0000\u0001HELLO THERE\r\n\r\n'));
    expectProblemClosed(x, 400, /not valid HTTP/);
  });

  it('an Expect the server does not know → 417 problem', async () => {
    const x = await exchange((s) => s.write(request(['Expect: 200-ok', 'Content-Length: 2'], '{}')));
    expectProblemClosed(x, 417, /unsupported Expect/);
  });
});

describe('slow clients', () => {
  it('headers sent one byte at a time (slowloris) → 408 problem at the headers timeout', async () => {
    let timer: NodeJS.Timeout | undefined;
    const x = await exchange((s) => {
      s.write('POST /new-order HTTP/1.1\r\nHost: acme.test\r\nX-Slow: ');
      timer = setInterval(() => s.writable && s.write('a'), 50);
      s.on('close', () => clearInterval(timer));
    });
    expectProblemClosed(x, 408, /not received in time/);
    expect(x.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(x.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 2_000);
  });

  it('a connection that sends nothing is closed at the headers timeout', async () => {
    const x = await exchange(() => undefined);
    expect(x.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 2_000);
  });

  it('a body that stops arriving → 408 at the request timeout, and no "unhandled error" in the log', async () => {
    const x = await exchange((s) => s.write(request(['Content-Type: application/jose+json', 'Content-Length: 1000'], '{"protected":')));
    expect(x.status, x.raw).toBe(408);
    expect(x.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(logLines.filter((l) => l.includes('unhandled error'))).toEqual([]);
  });

  it('a client that hangs up mid-body leaves no "unhandled error" in the log', async () => {
    await exchange((s) => {
      s.write(request(['Content-Type: application/jose+json', 'Content-Length: 1000'], '{"protected":'));
      setTimeout(() => s.destroy(), 50);
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(logLines.filter((l) => l.includes('unhandled error'))).toEqual([]);
  });
});
