import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { pcaCheckCommand } from '../../src/cli/pca-check.js';
import { startPcaSimulator, type RunningSimulator } from '../../src/pca/simulator/index.js';
import { silentLogger } from '../../src/platform/logger.js';

// `pca check` (issue 10 item 1) against the simulator, strict as it is by default: the figures of a
// ready target, then each cause an operator meets on first contact — wrong secret, wrong caTag, a
// skewed clock, a DISABLED CA, pageNo ignored — each with its own message and exit code, and never
// a key in what is printed. test/e2e/protocol-ncp.test.ts runs the built command against the
// standalone simulator process.

const ACCESS = 'ncp_iam_CHECKACCESSKEY01';
const SECRET = 'ncp_iam_CHECK-SECRET-must-never-print';
let dir: string;
let sim: RunningSimulator;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pca-check-'));
  sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'sim'), accessKey: ACCESS, secretKey: SECRET, logger: silentLogger() });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => sim.faults.set({}));

async function check(pca: Record<string, unknown> = {}, json = false): Promise<{ code: number; out: string; err: string }> {
  const file = join(dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify({ pca: { kind: 'ncp', endpoint: sim.url, caTag: sim.caTag, accessKey: ACCESS, secretKey: SECRET, ...pca } }));
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: string[] = [];
  const errs: string[] = [];
  out.on('data', (c) => chunks.push(String(c)));
  err.on('data', (c) => errs.push(String(c)));
  const code = await pcaCheckCommand(['check', '--config', file, ...(json ? ['--json'] : [])], { out, err }, undefined, {});
  const all = chunks.join('') + errs.join('');
  expect(all).not.toContain(SECRET);
  expect(all).not.toContain(ACCESS);
  return { code, out: chunks.join(''), err: errs.join('') };
}

describe('acme-pca-gateway pca check', () => {
  it('a ready target: exit 0 and every figure (endpoint, caTag, status, subject, key, end and days left, chain, paging, longest period)', async () => {
    const r = await check({ trustAnchorFile: sim.rootPemPath });
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain(sim.url);
    expect(r.out).toContain(`caTag ${sim.caTag}`);
    expect(r.out).toContain('access key ncp_…');
    expect(r.out).toMatch(/skew -?\d+\.\d s \(limit ±300 s\)/);
    expect(r.out).toMatch(/CA +ACTIVE .*subject ".+", key EC256/);
    expect(r.out).toMatch(/CA end +\d{4}-\d\d-\d\dT.* \(\d+ days left\)/);
    expect(r.out).toMatch(/chain +2 certificate\(s\); verifies to pca.trustAnchorFile/);
    expect(r.out).toMatch(/list paging +as expected: .*page 2 came back as page 2: pageNo is honoured/);
    expect(r.out).toMatch(/the longest period the gateway can ask for: \d+ days/);
    expect(r.out).toContain('CSR keys this CA signs: ecdsa-p256');
    expect(r.out).toContain('pca check: ready (1 target)');
    // It signs nothing: Get CA, chain, list pages 1 and 2.
    const calls = (await (await fetch(`${sim.url}/_simulator/calls`)).json()) as Record<string, number>;
    expect(calls.sign ?? 0).toBe(0);
    expect(calls).toMatchObject({ ca: 1, chain: 1, list: 2 });
  });

  it('--json: the same figures for scripts', async () => {
    const r = await check({}, true);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out) as { exitCode: number; ready: boolean; targets: Array<Record<string, any>> };
    expect(body).toMatchObject({ exitCode: 0, ready: true });
    expect(body.targets[0]).toMatchObject({ directory: 'default', caTag: sim.caTag, ok: true, ca: { status: 'ACTIVE', key: 'EC256' }, chain: { length: 2, verifies: true }, paging: { proven: true } });
    expect(body.targets[0]!.longestPeriodDays).toBeGreaterThan(1);
  });

  it('a wrong secret: exit 10, the credentials named with the fix', async () => {
    const r = await check({ secretKey: 'ncp_iam_WRONG-secret-also-never-printed' });
    expect(r.code).toBe(10);
    expect(r.out).toMatch(/FAILED \(misconfigured, exit 10\): Get CA: the PCA gateway refused the API key \(HTTP 401/);
    expect(r.out).toContain('fix: pca.accessKey');
    expect(r.out).not.toContain('WRONG-secret');
  });

  it('a wrong caTag: exit 12, the caTag named', async () => {
    const r = await check({ caTag: '00000000-00000000' });
    expect(r.code).toBe(12);
    expect(r.out).toMatch(/FAILED \(misconfigured, exit 12\): Get CA: the PCA knows no CA 00000000-00000000/);
    expect(r.out).toContain('fix: pca.caTag must be');
  });

  it("a skewed clock (the PCA gateway 10 minutes ahead): exit 13, NTP named — not the credentials", async () => {
    sim.faults.set({ behaviour: { clockOffsetMs: 10 * 60_000 } });
    const r = await check();
    expect(r.code).toBe(13);
    expect(r.out).toMatch(/FAILED \(misconfigured, exit 13\): this host's clock is (59\d|60\d) s behind the PCA gateway's/);
    expect(r.out).toContain('NTP');
    expect(r.out).not.toContain('refused the API key');
  });

  it('a skew inside the limit (2 minutes): ready, with a warning', async () => {
    sim.faults.set({ behaviour: { clockOffsetMs: 2 * 60_000 } });
    const r = await check();
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/warning +this host's clock is 1[12]\d s behind the PCA gateway's: close to the 5 minute limit/);
  });

  it('a DISABLED CA: exit 20 (not ready), the status and the console named', async () => {
    sim.faults.set({ behaviour: { caStatus: 'DISABLED' } });
    const r = await check();
    expect(r.code).toBe(20);
    expect(r.out).toMatch(/CA +DISABLED/);
    expect(r.out).toMatch(/FAILED \(not ready, exit 20\): the CA .* is DISABLED, not ACTIVE/);
  });

  it('pageNo ignored: exit 22, paging reported as not proving itself', async () => {
    sim.faults.set({ behaviour: { listPaging: 'ignored' } });
    const r = await check();
    expect(r.code).toBe(22);
    expect(r.out).toMatch(/list paging +NOT as expected: the PCA answered page 1 when asked for page 2/);
    expect(r.out).toMatch(/FAILED \(not ready, exit 22\): the certificate list's paging does not prove itself/);
  });

  it('a CA ending in 20 days: the longest period is under 20 days, pca.period 90 is said to be capped', async () => {
    sim.faults.set({ behaviour: { caExpiresInDays: 20 } });
    const r = await check({ period: 90 }, true);
    expect(r.code).toBe(0);
    const t = (JSON.parse(r.out) as { targets: Array<{ longestPeriodDays: number; warnings: string[]; ca: { daysLeft: number } }> }).targets[0]!;
    expect(t.longestPeriodDays).toBe(19);
    // The simulator puts the end 20 days after its own now; the check counts from its now, taken after
    // the answer: 19 whole days left, or exactly 20 when the loopback round trip took under 1 ms.
    expect([19, 20]).toContain(t.ca.daysLeft);
    expect(t.warnings.join('\n')).toContain(`pca.period is 90 days; the CA ends in ${t.ca.daysLeft} days, so the gateway asks for 19 at most`);
  });

  it('a trust anchor of another CA: exit 14', async () => {
    const other = join(dir, 'other-root.pem');
    // The simulator's root of a second, unrelated simulator.
    const sim2 = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'sim2'), accessKey: 'a', secretKey: 'b', logger: silentLogger() });
    writeFileSync(other, sim2.rootPem);
    await sim2.close();
    const r = await check({ trustAnchorFile: other });
    expect(r.code).toBe(14);
    expect(r.out).toMatch(/FAILED \(misconfigured, exit 14\): the CA chain \(2 certificates\) does not verify to pca.trustAnchorFile/);
  });

  it('a key the PCA gateway knows but refuses for the call (403): exit 11, the permissions named', async () => {
    sim.faults.set({ errorRate: 1, errorStatus: 403, errorCode: '230', endpoints: ['ca'] });
    const r = await check();
    expect(r.code).toBe(11);
    expect(r.out).toMatch(/FAILED \(misconfigured, exit 11\): Get CA: the PCA gateway knows the API key but refused the call \(HTTP 403/);
    expect(r.out).toContain('Going live with NAVER Cloud');
  });

  it('nothing listening at the endpoint: exit 23 (not ready), the endpoint named', async () => {
    const r = await check({ endpoint: 'http://127.0.0.1:9', timeoutMs: 2_000 });
    expect(r.code).toBe(23);
    expect(r.out).toMatch(/FAILED \(not ready, exit 23\): Get CA: the PCA did not answer usefully \(network/);
    expect(r.out).toContain('check that http://127.0.0.1:9 is reachable');
  });

  it('no ncp target: exit 2', async () => {
    const file = join(dir, 'sim.yaml');
    writeFileSync(file, stringify({ pca: { kind: 'simulator' } }));
    const err = new PassThrough();
    const code = await pcaCheckCommand(['check', '--config', file], { out: new PassThrough(), err }, undefined, {});
    expect(code).toBe(2);
  });
});
