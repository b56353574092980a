import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acme, acmeClientAutoHttp01, type Http01Responder } from './support/acmeClient.js';
import { startAcmeClientGateway } from './support/acme-gateway.js';
import { binariesRequired, requireBinary } from './support/binaries.js';
import { gatewayEntry, repoRoot } from './support/build.js';
import type { Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';

// The console (issue 13) in a real browser: Debian's chromium driven by playwright-core. The built
// gateway issues two certificates to acme-client and fails a third order (the PCA refuses the CSR, a
// fault injected into the embedded simulator); the page at / of the admin listener, opened with the
// admin token as the Basic password, shows the PCA's health, the CA's days left, the chart, and the
// orders just made, the failed one with its problem in plain words. A screenshot is saved to
// test-artifacts/console.png. Without chromium: skipped loudly, or under CI a failure.

const CHROMIUM = '/usr/bin/chromium';
const chromiumMissing = !fs.existsSync(CHROMIUM);
if (chromiumMissing) {
  if (binariesRequired() || process.env.CI) throw new Error(`FAILED: ${CHROMIUM} not installed, and CI requires it (apt-get install chromium)`);
  console.warn(`\n********************************************************\n*** SKIPPED: ${CHROMIUM} not installed (apt-get install chromium): the console test is skipped\n********************************************************\n`);
}
const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('console.test.ts');

describe.skipIf(chromiumMissing || challBin.skip)('the console in headless Chromium', () => {
  let gateway: Gateway;
  let responder: Http01Responder | undefined;
  const made: { ok: string[]; failed: string } = { ok: [], failed: '' };

  beforeAll(async () => {
    ({ gateway, responder } = await startAcmeClientGateway(h));
    const api = async (p: string) => (await fetch(`${gateway.adminUrl}${p}`, { headers: { Authorization: `Bearer ${gateway.adminToken()}` } })).json();
    const client = new acme.Client({ directoryUrl: gateway.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'), backoffMin: 250, backoffMax: 2_000 });
    await acmeClientAutoHttp01(client, responder, ['console-a.e2e.test']);
    await acmeClientAutoHttp01(client, responder, ['console-b.e2e.test', 'www.console-b.e2e.test']);
    made.ok = ((await api('/api/orders?status=valid')) as Array<{ id: string }>).map((o) => o.id);
    // The PCA refuses the next CSR: that order ends invalid with the PCA's answer.
    const sim = (parse(fs.readFileSync(gateway.configPath, 'utf8')) as { simulator: { listen: string } }).simulator.listen;
    const faults = (body: unknown) => fetch(`http://${sim}/_simulator/faults`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    await faults({ errorRate: 1, errorStatus: 400, errorCode: 'INVALID_CSR', endpoints: ['sign'] });
    await expect(acmeClientAutoHttp01(client, responder, ['console-fail.e2e.test'])).rejects.toThrow();
    await faults({});
    made.failed = ((await api('/api/orders?status=invalid')) as Array<{ id: string }>)[0]!.id;
  });

  afterAll(async () => {
    await responder?.close();
  });

  it('shows the orders just made, the failure in plain words, the PCA and the CA; screenshot saved', async () => {
    expect(made.ok).toHaveLength(2);
    const { chromium } = await import('playwright-core');
    const context = await chromium.launchPersistentContext(h.tempDir('chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      httpCredentials: { username: 'admin', password: gateway.adminToken() },
      viewport: { width: 1200, height: 1400 },
    });
    try {
      const page = await context.newPage();
      const res = await page.goto(`${gateway.adminUrl}/`);
      expect(res?.status()).toBe(200);
      const text = await page.locator('body').innerText();
      for (const id of [...made.ok, made.failed]) expect(await page.locator(`details.order[data-order="${id}"]`).count(), id).toBe(1);
      expect(text).toContain('console-a.e2e.test');
      expect(text).toContain('www.console-b.e2e.test');
      // The failed order is open, with its problem in words and the PCA's own answer.
      const failed = page.locator(`details.order[data-order="${made.failed}"]`);
      expect(await failed.getAttribute('open')).not.toBeNull();
      expect(await failed.locator('.explain').first().innerText()).toMatch(/Why it failed:.*Private CA.*INVALID_CSR/s);
      expect(await failed.innerText()).toMatch(/PCA sign call: failed in \d+ ms/);
      // PCA health, the CA's days left, the numbers of the chart.
      expect(await page.locator('#pca').innerText()).toMatch(/healthy[\s\S]*circuit breaker: closed/);
      expect(await page.locator('#ca-days').innerText()).toMatch(/\d+ days left/);
      expect(await page.locator('#last30').innerText()).toMatch(/2 issued[\s\S]*1 failed orders/);
      expect(await page.locator('#chart svg rect.issued').count()).toBe(30);
      expect(await page.locator('#chart svg g title').last().textContent()).toMatch(/2 issued, 1 failed/);
      // Nothing in the page needs a script.
      expect(await page.locator('script').count()).toBe(0);
      const artifacts = path.join(repoRoot, 'test-artifacts');
      fs.mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: path.join(artifacts, 'console.png'), fullPage: true });
      expect(fs.statSync(path.join(artifacts, 'console.png')).size).toBeGreaterThan(10_000);
    } finally {
      await context.close();
    }
  });

  it('the built binary\'s admin commands see the same orders: certs list --json, orders show --json, exit codes', async () => {
    const cli = (...args: string[]) => h.run(process.execPath, [gatewayEntry(), ...args, '--config', gateway.configPath], { cwd: repoRoot, timeoutMs: 60_000 });
    const certs = await cli('certs', 'list', '--json');
    expect(certs.code).toBe(0);
    const list = JSON.parse(certs.stdout) as Array<{ serial: string; names: string[]; notAfter: string; status: string; account: string; order: string }>;
    expect(list.map((c) => c.order).sort()).toEqual([...made.ok].sort());
    for (const c of list) expect(Object.keys(c)).toEqual(expect.arrayContaining(['serial', 'names', 'notAfter', 'status', 'account', 'order']));
    const shown = await cli('orders', 'show', made.failed, '--json');
    expect(shown.code).toBe(0);
    const order = JSON.parse(shown.stdout) as { status: string; timeline: Array<{ event: string }> };
    expect(order.status).toBe('invalid');
    expect(order.timeline.map((e) => e.event)).toContain('pca.sign');
    expect((await cli('orders', 'show', 'no-such-order')).code).toBe(1);
    const usage = await cli('certs', 'list', '--expiring-within', 'soon');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/not a duration like 30d/);
  });

  it('without the token the console asks for it (401 with a Basic challenge)', async () => {
    const res = await fetch(`${gateway.adminUrl}/`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="acme-pca-gateway admin"/);
  });
});
