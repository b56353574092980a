import { afterAll, describe, expect, it } from 'vitest';
import { PcaError } from '../../src/pca/errors.js';
import type { PcaClient } from '../../src/pca/types.js';
import { AcmeProblem } from '../../src/acme/problems.js';
import { AcmeTestClient, startTestGateway, type TestGateway } from '../harness.js';

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

  it('after a real issuance and a failed validation, the order, validation, job and PCA series have moved', async () => {
    const t = await startTestGateway();
    gateways.push(t);
    const scrape = async () => (await t.request('/metrics')).text();
    const before = await scrape();
    expect(before).not.toMatch(/acme_orders_total\{event="created"\} [1-9]/);

    const c = await AcmeTestClient.withAccount(t);
    await c.issue(['metrics.example.com']);
    t.validators.fail(new AcmeProblem('incorrectResponse', 'wrong key authorization'), { value: 'refused.example.com' });
    const refused = await c.newOrder(['refused.example.com']);
    const authz = (await c.completeAuthorizations(refused.body))[0]!;
    expect(authz.body.status).toBe('invalid');

    const text = await scrape();
    expect(text).toMatch(/acme_orders_total\{event="created"\} 2\n/);
    expect(text).toMatch(/acme_orders_total\{event="finalized"\} 1\n/);
    expect(text).toMatch(/acme_orders_total\{event="valid"\} 1\n/);
    expect(text).toMatch(/acme_validations_total\{type="http-01",result="valid"\} 1\n/);
    expect(text).toMatch(/acme_validations_total\{type="http-01",result="invalid"\} 1\n/);
    expect(text).toMatch(/acme_job_runs_total\{kind="validate",outcome="done"\} 2\n/);
    expect(text).toMatch(/acme_job_runs_total\{kind="issue",outcome="done"\} 1\n/);
    expect(text).toMatch(/acme_pca_call_duration_seconds_count\{operation="sign",outcome="ok"\} 1\n/);
    expect(text).toMatch(/acme_jobs_in_flight 0\n/);
  });

  it('not ready (503) while the PCA keeps failing and the circuit breaker is open', async () => {
    const down = () => Promise.reject(new PcaError('network', 'connection refused'));
    const failingPca: PcaClient = { sign: down, chain: down, revoke: down, getCert: down, listCerts: down, crl: down, getCa: down, rotateCrl: down };
    const t = await startTestGateway({ overrides: { pca: failingPca, trustAnchorPems: [] } });
    gateways.push(t);
    // Each call retries with backoff; the breaker opens after enough consecutive failures.
    for (let i = 0; i < 3; i++) await t.gw.pca.chain().catch(() => undefined);
    const res = await t.request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'not ready', reason: expect.stringMatching(/circuit breaker open/) });
  }, 30_000);
});
