import { createHmac, timingSafeEqual, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeProblem } from '../../src/acme/problems.js';
import { AcmeTestClient, b64u, startTestGateway, type TestGateway } from '../harness.js';

// Webhooks (issue 13): a local receiver that checks every signature, and is down (connection
// refused, then 503) while the first certificate is issued. Issuance does not wait for it; the
// deliveries queued in the job queue arrive once it is back, each exactly once, signed, in the shape
// the README documents; an expiry notice comes once per certificate however often the scan runs.

const SECRET = 'whsec-test-0123456789abcdef';

interface Delivery {
  id: string;
  event: string;
  body: { id: string; event: string; at: string; data: Record<string, unknown> };
}

let t: TestGateway;
let receiver: Server;
let port: number;
let mode: 'down' | 'failing' | 'up' = 'down';
const deliveries: Delivery[] = [];
const refusedWhileFailing: string[] = [];
const badSignatures: string[] = [];

function verify(header: string | undefined, body: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  if (Math.abs(Date.now() / 1000 - Number(m[1])) > 300) return false; // a replay window of five minutes
  const expected = createHmac('sha256', SECRET).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}

function startReceiver(): Promise<void> {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (!verify(req.headers['x-acme-gateway-signature'] as string | undefined, body)) {
        badSignatures.push(body);
        res.writeHead(401).end();
        return;
      }
      if (mode === 'failing') {
        refusedWhileFailing.push(req.headers['x-acme-gateway-delivery'] as string);
        res.writeHead(503).end();
        return;
      }
      deliveries.push({ id: req.headers['x-acme-gateway-delivery'] as string, event: req.headers['x-acme-gateway-event'] as string, body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => receiver.listen(port, '127.0.0.1', () => resolve()));
}

async function waitFor(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; deliveries: ${JSON.stringify(deliveries.map((d) => d.event))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  // A port with nothing on it yet: the receiver is down.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  t = await startTestGateway({
    config: {
      notifications: {
        webhooks: [{ url: `http://127.0.0.1:${port}/hooks/acme`, secret: SECRET, timeoutMs: 2000 }],
        expiringWithinDays: 365,
        expiryScanIntervalMs: 300,
      },
    },
  });
});
afterAll(async () => {
  receiver?.close();
  await t?.dispose();
});

describe('webhooks', () => {
  it('issuance does not wait for a receiver that is down; the deliveries arrive once it is back, signed, once each', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const started = Date.now();
    const issued = await c.issue(['hooked.example.com']);
    expect(issued.order.status).toBe('valid');
    // Down: nothing listens. The issuance finished in its usual time all the same.
    expect(Date.now() - started).toBeLessThan(5_000);
    await new Promise((r) => setTimeout(r, 1200));
    expect(deliveries).toEqual([]);
    // Up but failing (503) for a while, then answering.
    mode = 'failing';
    await startReceiver();
    await waitFor('a refused attempt', () => refusedWhileFailing.length > 0);
    mode = 'up';
    await waitFor('certificate.issued', () => deliveries.some((d) => d.event === 'certificate.issued'));
    const d = deliveries.find((x) => x.event === 'certificate.issued')!;
    const cert = new X509Certificate((await c.download(issued.certUrl)).text);
    expect(d.body).toMatchObject({ event: 'certificate.issued', data: { order: issued.orderUrl.split('/').pop(), names: ['hooked.example.com'], serial: cert.serialNumber.toLowerCase().replace(/^(00)+/, '') } });
    // Every delivery refused while the receiver failed came again later with the same id (retried,
    // not re-created); the expiry scan may have queued a notice by then too.
    await waitFor('the refused deliveries, retried', () => refusedWhileFailing.every((id) => deliveries.some((x) => x.id === id)));
    expect(badSignatures).toEqual([]);
  }, 60_000);

  it('failed orders and revocations are delivered too; an expiry notice comes once per certificate', async () => {
    const c = await AcmeTestClient.withAccount(t);
    t.validators.fail(new AcmeProblem('incorrectResponse', 'wrong answer'), { value: 'broken.example.com' });
    const broken = await c.newOrder(['broken.example.com']);
    await c.completeAuthorizations(broken.body);
    await waitFor('order.failed', () => deliveries.some((d) => d.event === 'order.failed'));
    expect(deliveries.find((d) => d.event === 'order.failed')!.body.data).toMatchObject({
      order: broken.location!.split('/').pop(),
      names: ['broken.example.com'],
      problem: { type: 'urn:ietf:params:acme:error:incorrectResponse' },
    });

    const { certUrl } = await c.issue(['revoked.example.com']);
    const pem = (await c.download(certUrl)).text;
    const der = new X509Certificate(pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 25)).raw;
    expect((await c.post(t.url('revokeCert'), { certificate: b64u(der), reason: 1 })).status).toBe(200);
    await waitFor('certificate.revoked', () => deliveries.some((d) => d.event === 'certificate.revoked'));
    expect(deliveries.find((d) => d.event === 'certificate.revoked')!.body.data).toMatchObject({ reason: 1 });

    // hooked.example.com (the first test's) is valid, not renewed and inside the 365-day window.
    await waitFor('certificate.expiring', () => deliveries.some((d) => d.event === 'certificate.expiring' && (d.body.data.names as string[])[0] === 'hooked.example.com'));
    await new Promise((r) => setTimeout(r, 1000)); // three more scans
    const notices = deliveries.filter((d) => d.event === 'certificate.expiring' && (d.body.data.names as string[])[0] === 'hooked.example.com');
    expect(notices).toHaveLength(1);
    expect(notices[0]!.body.data).toMatchObject({ daysLeft: expect.any(Number), notAfter: expect.any(String) });
    // Every delivery id once: retries deliver the same id, never a second copy.
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(deliveries.length);
    const metrics = await (await t.admin('/metrics')).text();
    expect(metrics).toMatch(/acme_webhook_deliveries_total\{outcome="failed"\} [1-9]/);
    expect(metrics).toMatch(/acme_webhook_deliveries_total\{outcome="delivered"\} [1-9]/);
  }, 60_000);
});
