import { afterAll, describe, expect, it } from 'vitest';
import { PcaError } from '../../src/pca/errors.js';
import type { PcaClient } from '../../src/pca/types.js';
import { startTestGateway, type TestGateway } from '../harness.js';

// Operations endpoints: liveness, readiness (database + PCA circuit breaker) and Prometheus metrics.

const gateways: TestGateway[] = [];
afterAll(async () => {
  for (const g of gateways) await g.dispose();
});

describe('/livez, /readyz, /metrics', () => {
  it('live and ready on a healthy gateway; metrics count the requests by route', async () => {
    const t = await startTestGateway();
    gateways.push(t);
    expect((await t.request('/livez')).status).toBe(200);
    const ready = await t.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    await t.request('/directory');
    const metrics = await t.request('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/acme_http_requests_total\{method="GET",route="\/directory",status="200"\} 1/);
    expect(text).toContain('acme_pca_call_duration_seconds');
  });

  it('not ready (503) while the PCA keeps failing and the circuit breaker is open', async () => {
    const down = () => Promise.reject(new PcaError('network', 'connection refused'));
    const failingPca: PcaClient = { sign: down, chain: down, revoke: down, getCert: down, listCerts: down, crl: down };
    const t = await startTestGateway({ overrides: { pca: failingPca, trustAnchorPems: [] } });
    gateways.push(t);
    // Each call retries with backoff; the breaker opens after enough consecutive failures.
    for (let i = 0; i < 3; i++) await t.gw.pca.chain().catch(() => undefined);
    const res = await t.request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'not ready', reason: expect.stringMatching(/circuit breaker open/) });
  }, 30_000);
});
