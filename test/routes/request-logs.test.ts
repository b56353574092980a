import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { formatLogLine } from '../../src/platform/pretty-log.js';
import { RequestScope } from '../../src/platform/request-scope.js';
import { AcmeTestClient, startTestGateway, type TestGateway } from '../harness.js';

// Logs (issue 13): every line written while a request runs carries its request id, deep in a use
// case included (the logger's mixin reads the request scope), lines about an order carry the order
// id through its life, background jobs included; and the terminal format is readable.

const gateways: TestGateway[] = [];
afterAll(async () => {
  for (const g of gateways) await g.dispose();
});

describe('request and order ids in the logs', () => {
  it('a request id on the lines of each request, the order id from creation to issuance', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk, _e, done) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
        done();
      },
    });
    const scope = new RequestScope();
    const t = await startTestGateway({ overrides: { logger: createLogger({ level: 'debug', destination, scope }), requestScope: scope } });
    gateways.push(t);
    const c = await AcmeTestClient.withAccount(t);
    const { orderUrl } = await c.issue(['logs.example.com']);
    const orderId = orderUrl.split('/').pop();

    const created = lines.find((l) => l.msg === 'order created')!;
    expect(created).toMatchObject({ requestId: expect.stringMatching(/^[0-9a-f]{16}$/), orderId });
    expect(lines.find((l) => l.msg === 'challenge valid')!.orderId).toBe(orderId);
    const issued = lines.find((l) => l.msg === 'certificate issued')!;
    expect(issued.orderId).toBe(orderId);
    // The lines of one request share its id; another request has another.
    const ids = new Set(lines.filter((l) => l.requestId).map((l) => l.requestId));
    expect(ids.size).toBeGreaterThan(1);
    // The finalize request's lines name the order even where the code logging them did not.
    const duringFinalize = lines.filter((l) => l.requestId && l.orderId === orderId);
    expect(duringFinalize.length).toBeGreaterThan(0);
  });
});

describe('pretty logs for a terminal', () => {
  it('time, level and message first, the fields after; not-JSON lines pass through', () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 2, 3, 4, 5, 678), msg: 'PCA sign failed; will retry', orderId: 'o1', attempt: 2, pca: 'HTTP 503' });
    expect(formatLogLine(line, false)).toBe('03:04:05.678 WARN  PCA sign failed; will retry  orderId=o1 attempt=2 pca="HTTP 503"');
    expect(formatLogLine(line)).toContain('\x1b[33mWARN ');
    expect(formatLogLine('plain text', false)).toBe('plain text');
  });

  it('a logger with pretty: true writes the formatted lines', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _e, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger({ pretty: true, destination: sink });
    logger.info({ requestId: 'abc' }, 'hello');
    await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(/^\x1b\[2m\d\d:\d\d:\d\d\.\d{3}\x1b\[0m \x1b\[32mINFO \x1b\[0m hello  \x1b\[2mrequestId=abc\x1b\[0m\n$/);
  });
});
