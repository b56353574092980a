import { X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { PcaError } from '../../src/pca/errors.js';
import type { PcaClient } from '../../src/pca/types.js';
import { AcmeProblem } from '../../src/acme/problems.js';
import { AcmeTestClient, startTestGateway, URN, type TestGateway } from '../harness.js';

// Operations endpoints (issue 13): liveness, readiness (database + PCA circuit breaker) and
// Prometheus metrics on the admin listener, behind its token; the ACME listener serves ACME only.

const gateways: TestGateway[] = [];
afterAll(async () => {
  for (const g of gateways) await g.dispose();
});

describe('the admin listener: /livez, /readyz, /metrics', () => {
  it('live and ready without a token; metrics count the ACME requests by route', async () => {
    const t = await startTestGateway();
    gateways.push(t);
    expect((await t.admin('/livez', { token: null })).status).toBe(200);
    const ready = await t.admin('/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    await t.request('/directory');
    const metrics = await t.admin('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/acme_http_requests_total\{method="GET",route="\/directory",status="200"\} 1/);
    expect(text).toContain('acme_pca_call_duration_seconds');
  });

  it('the ACME port serves ACME only: /metrics, /livez, /readyz and / are unknown resources there', async () => {
    const t = await startTestGateway();
    gateways.push(t);
    for (const path of ['/metrics', '/livez', '/readyz', '/', '/api/orders']) {
      const res = await t.request(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.text()).not.toMatch(/acme_http_requests_total|<html/);
    }
  });

  it('refuses a missing or wrong token (401 with a challenge), takes the token as Bearer or as the Basic password', async () => {
    const t = await startTestGateway();
    gateways.push(t);
    for (const path of ['/metrics', '/', '/api/orders', '/api/certificates', '/api/audit', '/api/summary']) {
      const none = await t.admin(path, { token: null });
      expect(none.status, path).toBe(401);
      expect(none.headers.get('www-authenticate'), path).toMatch(path === '/' ? /^Basic realm=/ : /^Bearer realm=/);
      expect(await none.text()).not.toContain('acme_');
      const wrong = await t.admin(path, { token: `${t.gw.admin.token.token}x` });
      expect(wrong.status, path).toBe(401);
      expect(wrong.headers.get('content-type')).toBe('application/problem+json');
      expect(await wrong.json()).toEqual({ type: 'urn:acme-pca-gateway:admin:unauthorized', title: 'the admin token is missing or wrong', status: 401, detail: 'wrong admin token' });
    }
    const basic = Buffer.from(`anyone:${t.gw.admin.token.token}`).toString('base64');
    expect((await t.admin('/', { token: null, headers: { Authorization: `Basic ${basic}` } })).status).toBe(200);
    expect((await t.admin('/api/orders')).status).toBe(200);
  });

  it('every admin API error is an RFC 7807 problem document with its status; a malformed revoke body revokes nothing', async () => {
    const t = await startTestGateway();
    gateways.push(t);
    const c = await AcmeTestClient.withAccount(t);
    await c.issue(['admin-errors.example.com']);
    const [listed] = (await (await t.admin('/api/certificates?name=admin-errors.example.com')).json()) as Array<{ serial: string }>;
    const serial = listed!.serial;
    const post = (path: string, body?: string) => t.admin(path, { method: 'POST', ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) });
    const cases: Array<[string, () => Promise<Response>, number, string, RegExp]> = [
      ['no token', () => t.admin('/api/orders', { token: null }), 401, 'unauthorized', /needs Authorization: Bearer/],
      ['unknown resource', () => t.admin('/api/nothing-here'), 404, 'notFound', /no such admin resource: GET \/api\/nothing-here/],
      ['unknown order', () => t.admin('/api/orders/nope'), 404, 'notFound', /not found: nope/],
      ['unknown certificate', () => post('/api/certificates/00ff/revoke', '{"reason":1}'), 404, 'notFound', /no certificate 00ff/],
      ['a duration that is not one', () => t.admin('/api/certificates?expiring-within=soon'), 400, 'badRequest', /expected a duration like 30d/],
      ['a body that is not JSON', () => post(`/api/certificates/${serial}/revoke`, '{"reason": 4'), 400, 'badRequest', /expected a JSON object/],
      ['a body that is not an object', () => post(`/api/certificates/${serial}/revoke`, '[4]'), 400, 'badRequest', /expected a JSON object/],
      ['reason 7 (unused in RFC 5280)', () => post(`/api/certificates/${serial}/revoke`, '{"reason":7}'), 400, 'badRequest', /an RFC 5280 reason code/],
      ['unknown account', () => post('/api/accounts/nobody/deactivate'), 404, 'notFound', /./],
    ];
    for (const [what, send, status, type, detail] of cases) {
      const res = await send();
      expect(res.status, what).toBe(status);
      expect(res.headers.get('content-type'), what).toBe('application/problem+json');
      const body = (await res.json()) as Record<string, unknown>;
      expect(body, what).toMatchObject({ type: `urn:acme-pca-gateway:admin:${type}`, status, title: expect.any(String) });
      expect(body.detail, what).toMatch(detail);
    }
    expect(((await (await t.admin(`/api/certificates/${serial}`)).json()) as { status: string }).status).toBe('valid');
    // Revoked once; the second time is a conflict.
    expect((await post(`/api/certificates/${serial}/revoke`, '{"reason":4}')).status).toBe(200);
    const again = await post(`/api/certificates/${serial}/revoke`, '{"reason":4}');
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ type: 'urn:acme-pca-gateway:admin:conflict', status: 409, detail: expect.stringMatching(/already revoked/) });
  });

  it('after an issuance and a failure, the order, validation, job, queue, problem and PCA series have moved', async () => {
    const t = await startTestGateway();
    gateways.push(t);
    const scrape = async () => (await t.admin('/metrics')).text();
    const before = await scrape();
    expect(before).not.toMatch(/acme_orders_total\{event="created"\} [1-9]/);
    expect(before).not.toMatch(/acme_orders\{status="valid"\}/);

    const c = await AcmeTestClient.withAccount(t);
    await c.issue(['metrics.example.com']);
    t.validators.fail(new AcmeProblem('incorrectResponse', 'wrong key authorization'), { value: 'refused.example.com' });
    const refused = await c.newOrder(['refused.example.com']);
    const authz = (await c.completeAuthorizations(refused.body))[0]!;
    expect(authz.body.status).toBe('invalid');
    // A replayed nonce: a badNonce refusal.
    const nonce = await c.nonce();
    await c.newOrder(['a.example.com'], {});
    expect((await c.post(t.url('newOrder'), { identifiers: [{ type: 'dns', value: 'b.example.com' }] }, { nonce })).status).toBe(201);
    expect((await c.post(t.url('newOrder'), { identifiers: [{ type: 'dns', value: 'b.example.com' }] }, { nonce })).body.type).toBe(URN('badNonce'));

    const text = await scrape();
    expect(text).toMatch(/acme_orders_total\{event="created"\} 4\n/);
    expect(text).toMatch(/acme_orders_total\{event="finalized"\} 1\n/);
    expect(text).toMatch(/acme_orders_total\{event="valid"\} 1\n/);
    expect(text).toMatch(/acme_orders_total\{event="invalid"\} 1\n/);
    expect(text).toMatch(/acme_orders\{status="valid"\} 1\n/);
    expect(text).toMatch(/acme_orders\{status="invalid"\} 1\n/);
    expect(text).toMatch(/acme_orders\{status="pending"\} 2\n/);
    expect(text).toMatch(/acme_validations_total\{type="http-01",result="valid"\} 1\n/);
    expect(text).toMatch(/acme_validations_total\{type="http-01",result="invalid"\} 1\n/);
    expect(text).toMatch(/acme_job_runs_total\{kind="validate",outcome="done"\} 2\n/);
    expect(text).toMatch(/acme_job_runs_total\{kind="issue",outcome="done"\} 1\n/);
    expect(text).toMatch(/acme_pca_call_duration_seconds_count\{operation="sign",outcome="ok"\} 1\n/);
    expect(text).toMatch(/acme_problems_total\{type="badNonce"\} 1\n/);
    expect(text).toMatch(/acme_jobs_in_flight 0\n/);
    expect(text).toMatch(/acme_certificates_expiring\{within="30d"\} 0\n/);
    expect(text).toMatch(/acme_directory_ready\{directory="default"\} 1\n/);
    expect(text).toMatch(/acme_pca_breaker_state\{directory="default",state="closed"\} 1\n/);
    expect(text).toMatch(/acme_pca_breaker_state\{directory="default",state="open"\} 0\n/);
    const caNotAfter = Number(/^acme_ca_not_after_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
    expect(caNotAfter * 1000).toBe(Date.parse(new X509Certificate(t.gw.trustAnchorPems()[0]!).validTo));
    // Nothing names a certificate or a host: no per-name labels.
    expect(text).not.toMatch(/example\.com/);
  });

  it('problem documents are counted by type (a replayed nonce is a badNonce)', async () => {
    const t = await startTestGateway();
    gateways.push(t);
    const c = await AcmeTestClient.withAccount(t);
    const nonce = await c.nonce();
    expect((await c.postAsGet(c.kid!, { nonce })).status).toBe(200);
    expect((await c.postAsGet(c.kid!, { nonce })).status).toBe(400);
    expect((await c.postAsGet(c.kid!, { nonce })).status).toBe(400);
    const text = await (await t.admin('/metrics')).text();
    expect(text).toMatch(/acme_problems_total\{type="badNonce"\} 2\n/);
  });

  it('not ready (503) while the PCA keeps failing and the circuit breaker is open, ready again once it answers', async () => {
    let up = false;
    const real = { chain: async () => ['-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n'] };
    const down = () => Promise.reject(new PcaError('network', 'connection refused'));
    const flaky: PcaClient = { sign: down, chain: () => (up ? real.chain() : down()), revoke: down, getCert: down, listCerts: down, crl: down, getCa: down, rotateCrl: down };
    const t = await startTestGateway({ overrides: { pca: flaky, trustAnchorPems: [] }, config: { pca: { breakerCooldownMs: 3000 } } });
    gateways.push(t);
    // Each call retries with backoff; the breaker opens after enough consecutive failures.
    for (let i = 0; i < 3; i++) await t.gw.pca.chain().catch(() => undefined);
    const res = await t.admin('/readyz', { token: null });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'not ready', reason: expect.stringMatching(/circuit breaker open/) });
    // The PCA is back: after the cooldown one call goes through, the breaker closes, ready again.
    up = true;
    await new Promise((r) => setTimeout(r, 3100));
    await t.gw.pca.chain();
    const back = await t.admin('/readyz', { token: null });
    expect(back.status).toBe(200);
  }, 30_000);
});

describe('several directories: each one\'s PCA on /metrics and on the console', () => {
  it('the default directory\'s PCA down (breaker open), payments\' healthy: /metrics says which, the console lists both, /api/summary too', async () => {
    const down = () => Promise.reject(new PcaError('network', 'connection refused'));
    const failing: PcaClient = { sign: down, chain: down, revoke: down, getCert: down, listCerts: down, crl: down, getCa: down, rotateCrl: down };
    const t = await startTestGateway({
      overrides: { pca: failing, trustAnchorPems: [] },
      config: { pca: { breakerCooldownMs: 60_000 }, directories: { payments: { pca: { kind: 'simulator', caTag: 'payments-ca' } } } },
    });
    gateways.push(t);
    for (let i = 0; i < 3; i++) await t.gw.pca.chain().catch(() => undefined);

    const metrics = await (await t.admin('/metrics')).text();
    expect(metrics).toMatch(/acme_directory_ready\{directory="default"\} 0\n/);
    expect(metrics).toMatch(/acme_directory_ready\{directory="payments"\} 1\n/);
    expect(metrics).toMatch(/acme_pca_breaker_state\{directory="default",state="open"\} 1\n/);
    expect(metrics).toMatch(/acme_pca_breaker_state\{directory="payments",state="closed"\} 1\n/);

    const page = await (await t.admin('/')).text();
    const card = page.slice(page.indexOf('<section class="card" id="pca">'), page.indexOf('</section>', page.indexOf('id="pca"')));
    expect(card).toContain('<h2>Private CAs</h2>');
    expect(card).toContain('1 of 2 not healthy');
    const row = (d: string) => card.slice(card.indexOf(`<tr data-directory="${d}">`), card.indexOf('</tr>', card.indexOf(`<tr data-directory="${d}">`)));
    expect(row('default')).toMatch(/unreachable[\s\S]*circuit breaker: <strong class="bad">open<\/strong>[\s\S]*CA chain not readable/);
    expect(row('payments')).toMatch(/class="ok">healthy[\s\S]*circuit breaker: <strong class="ok">closed<\/strong>[\s\S]*CA chain read in \d+ ms/);
    // The payments CA's issuing certificate is in the CA lifetime card, named by its directory.
    expect(page).toMatch(/<td>issuing CA \(payments\)<\/td>/);

    const summary = (await (await t.admin('/api/summary')).json()) as { pcas: Array<Record<string, unknown>> };
    expect(summary.pcas).toEqual([
      { directory: 'default', breaker: 'open', reachable: false, detail: expect.stringMatching(/^CA chain not readable/), caNotReady: null },
      { directory: 'payments', breaker: 'closed', reachable: true, detail: expect.stringMatching(/^CA chain read in \d+ ms$/), caNotReady: null },
    ]);
  }, 30_000);

  it('a directory whose CA is not ACTIVE: not ready on /metrics, "cannot issue" with the reason on the console', async () => {
    const t = await startTestGateway({ config: { directories: { payments: { pca: { kind: 'simulator', caTag: 'payments-ca' } } } } });
    gateways.push(t);
    t.gw.simulator!.faults.set({ behaviour: { caStatus: 'DISABLED' } });
    for (const d of t.gw.directories) await d.ca.refresh();
    const metrics = await (await t.admin('/metrics')).text();
    expect(metrics).toMatch(/acme_directory_ready\{directory="default"\} 0\n/);
    expect(metrics).toMatch(/acme_directory_ready\{directory="payments"\} 0\n/);
    expect(metrics).toMatch(/acme_pca_breaker_state\{directory="payments",state="closed"\} 1\n/);
    const page = await (await t.admin('/')).text();
    expect(page).toContain('2 of 2 not healthy');
    expect(page).toMatch(/<tr data-directory="payments">[\s\S]*?cannot issue[\s\S]*?the Private CA payments-ca is DISABLED, not ACTIVE/);
    t.gw.simulator!.faults.set({});
    for (const d of t.gw.directories) await d.ca.refresh();
    expect(await (await t.admin('/metrics')).text()).toMatch(/acme_directory_ready\{directory="payments"\} 1\n/);
  });
});
