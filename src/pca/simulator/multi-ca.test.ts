import { X509Certificate } from 'node:crypto';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../platform/clock.js';
import { NcpPcaClient } from '../ncp-client.js';
import { signatureV2 } from '../signature.js';
import { makeCsr } from '../make-csr.js';
import { extraCaTagProblem, startPcaSimulator, type RunningSimulator } from './index.js';

// Several CAs on one simulator port (issue 9: one directory per CA, with no cloud): each caTag has its
// own key, journal, CRL and root file, and nothing one CA issued chains to another.

const AK = 'sim-access';
const SK = 'sim-secret';

async function signedGet(sim: RunningSimulator, target: string): Promise<{ status: number; json: any }> {
  const ts = String(Date.now());
  const res = await fetch(`${sim.url}${target}`, {
    headers: {
      'content-type': 'application/json',
      'x-ncp-apigw-timestamp': ts,
      'x-ncp-iam-access-key': AK,
      'x-ncp-apigw-signature-v2': signatureV2({ method: 'GET', uri: target, timestamp: ts, accessKey: AK, secretKey: SK }),
    },
  });
  return { status: res.status, json: await res.json() };
}

/** True when the leaf's chain (issuer first) ends in `rootPem` and every signature verifies. */
function chainsTo(leafPem: string, chainPems: string[], rootPem: string): boolean {
  const certs = [leafPem, ...chainPems].map((p) => new X509Certificate(p));
  const root = new X509Certificate(rootPem);
  for (let i = 0; i < certs.length - 1; i++) if (!certs[i]!.verify(certs[i + 1]!.publicKey)) return false;
  const last = certs[certs.length - 1]!;
  return last.raw.equals(root.raw) || last.verify(root.publicKey);
}

describe('PCA simulator: several CAs on one port', () => {
  let dir: string;
  let sim: RunningSimulator;
  const clients: NcpPcaClient[] = [];
  const clientFor = (caTag: string) => {
    const c = new NcpPcaClient({ endpoint: sim.url, caTag, accessKey: AK, secretKey: SK, clock: systemClock });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pca-sim-multi-'));
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: dir, accessKey: AK, secretKey: SK, extraCaTags: ['payments-ca', 'platform-ca', 'payments-ca'] });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the default CA at the top of dataDir and each other CA in <dataDir>/<caTag>/', async () => {
    expect(sim.cas.map((c) => c.caTag)).toEqual([sim.caTag, 'payments-ca', 'platform-ca']);
    expect(sim.rootPemPath).toBe(join(dir, 'root.pem'));
    expect(sim.ca('payments-ca')!.rootPemPath).toBe(join(dir, 'payments-ca', 'root.pem'));
    expect(await readFile(join(dir, 'platform-ca', 'root.pem'), 'utf8')).toBe(sim.ca('platform-ca')!.rootPem);
    await access(join(dir, 'payments-ca', 'ca', 'root.key.pem'));
    // Three distinct keys and names: a chain of one is never a chain of another.
    const roots = sim.cas.map((c) => new X509Certificate(c.rootPem));
    expect(new Set(roots.map((r) => r.publicKey.export({ format: 'der', type: 'spki' }).toString('hex'))).size).toBe(3);
    expect(roots[1]!.subject).toContain('Simulator Root CA (payments-ca)');
    expect(roots[0]!.subject).toContain('CN=acme-pca-gateway Simulator Root CA\n');
  });

  it('each CA signs with its own key: the leaf chains to its root and not to the others', async () => {
    const payments = await clientFor('payments-ca').sign((await makeCsr(['a.payments.test'])).csrPem);
    const platform = await clientFor('platform-ca').sign((await makeCsr(['a.platform.test'])).csrPem);
    expect(chainsTo(payments.leafPem, payments.chainPems, sim.ca('payments-ca')!.rootPem)).toBe(true);
    expect(chainsTo(payments.leafPem, payments.chainPems, sim.ca('platform-ca')!.rootPem)).toBe(false);
    expect(chainsTo(payments.leafPem, payments.chainPems, sim.rootPem)).toBe(false);
    expect(chainsTo(platform.leafPem, platform.chainPems, sim.ca('platform-ca')!.rootPem)).toBe(true);
    // Each CA lists and finds only what it issued.
    expect((await clientFor('payments-ca').listCerts()).serials).toEqual([payments.serialNo]);
    await expect(clientFor('platform-ca').getCert(payments.serialNo)).rejects.toThrow();
    const issued = async (q: string) => (await fetch(`${sim.url}/_simulator/issued${q}`)).json() as Promise<unknown[]>;
    expect(await issued('?caTag=platform-ca')).toHaveLength(1);
    expect(await issued('')).toHaveLength(0); // the default CA issued nothing
    expect((await fetch(`${sim.url}/_simulator/issued?caTag=nope`)).status).toBe(404);
  });

  it('GET /ca lists every CA; an unknown caTag is a PCA 404; /ext/<caTag>/ca serves that root', async () => {
    const list = await signedGet(sim, '/api/v1/ca');
    expect(list.json.data.totalCnt).toBe(3);
    expect(list.json.data.caInfoList.map((c: { caInfo: { caTag: string; caId: number } }) => [c.caInfo.caTag, c.caInfo.caId])).toEqual([
      [sim.caTag, 1],
      ['payments-ca', 2],
      ['platform-ca', 3],
    ]);
    expect((await signedGet(sim, '/api/v1/ca/nope-ca/chain')).json).toEqual({ code: 'NOT_FOUND', msg: 'ca not found.', data: null });
    const der = Buffer.from(await (await fetch(`${sim.url}/ext/platform-ca/ca`)).arrayBuffer());
    expect(new X509Certificate(der).raw.equals(new X509Certificate(sim.ca('platform-ca')!.rootPem).raw)).toBe(true);
    expect((await fetch(`${sim.url}/ext/nope-ca/ca`)).status).toBe(404);
  });

  it('a restart keeps every CA', async () => {
    const before = sim.cas.map((c) => c.rootPem);
    await sim.close();
    for (const c of clients.splice(0)) c.close();
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: dir, accessKey: AK, secretKey: SK, extraCaTags: ['payments-ca', 'platform-ca'] });
    expect(sim.cas.map((c) => c.rootPem)).toEqual(before);
    expect((await clientFor('payments-ca').listCerts()).serials).toHaveLength(1);
  });
});

describe('extra CA tags', () => {
  it.each(['ca', 'CA', 'root.pem', 'issued.jsonl', 'ca-tag', '../up', '.hidden', 'a/b', '', 'x'.repeat(65)])('refuses %j', (tag) => {
    expect(extraCaTagProblem(tag)).not.toBeNull();
  });
  it.each(['payments-ca', 'p1', '4b0bbe37-eeea93b8', 'team.ca_1'])('takes %j', (tag) => {
    expect(extraCaTagProblem(tag)).toBeNull();
  });
  it('startPcaSimulator refuses a bad one before touching dataDir', async () => {
    await expect(startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: join(tmpdir(), 'never-made'), accessKey: AK, secretKey: SK, extraCaTags: ['ca'] })).rejects.toThrow(/file of the simulator/);
  });
});
