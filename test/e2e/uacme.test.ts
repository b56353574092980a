import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './support/binaries.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify } from './support/openssl.js';
import { storedRevocation } from './support/protocol.js';
import {
  uacmeCertKeyPath,
  uacmeCertPath,
  uacmeHookCalls,
  uacmeIssue,
  uacmeNew,
  uacmeRun,
  writeUacmeHook,
  type UacmeHook,
  type UacmeSetup,
} from './support/uacme.js';
import { startWebrootResponder, type WebrootResponder } from './support/webroot.js';

// uacme (Debian bookworm 1.7.4): the strictest client (spec acme-interop §3) - exact status codes
// (GET newNonce 204, newAccount/newOrder 201, the rest 200), accountDoesNotExist probing before
// registration, no `error` member in 2xx bodies, no authz `processing`. http-01 via a hook script.
// Plain http gateway: uacme 1.7.4 cannot be told to trust an extra CA (see support/uacme.ts).

const uacmeBin = requireBinary('uacme');
const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('uacme.test.ts');

describe.skipIf(uacmeBin.skip || challBin.skip)('uacme 1.7.4 against the gateway', () => {
  let gateway: Gateway;
  let responder: WebrootResponder;
  let uacme: UacmeSetup;
  let hook: UacmeHook;

  beforeAll(async () => {
    const dns = await startChallTestSrv(h);
    gateway = await startGateway(h, { dnsResolvers: [dns.dnsAddress], tls: 'none' });
    const work = h.tempDir('uacme');
    uacme = { directoryUrl: gateway.directoryUrl, confDir: path.join(work, 'conf'), webrootDir: path.join(work, 'webroot') };
    hook = writeUacmeHook(uacme, work);
    responder = await startWebrootResponder(gateway.validationHttpPort, uacme.webrootDir);
    h.attachLog('uacme hook calls', () => fs.readFileSync(hook.logPath, 'utf8'));
  });

  afterAll(async () => {
    await responder?.close();
  });

  it('new: probes with onlyReturnExisting, then registers (201, status valid) and saves the account key', async () => {
    const result = await uacmeNew(h, uacme, 'mailto:uacme@example.com');
    expect(fs.existsSync(path.join(uacme.confDir, 'private', 'key.pem'))).toBe(true);
    // -v -v logs the account URL it got back in Location.
    expect(result.stderr).toContain(`${gateway.externalUrl}/`);

    // A second `new` with the same key: uacme's probe now finds the account and it stops there.
    const again = await uacmeRun(h, uacme, ['-y', 'new']);
    expect(again.code, again.stderr).not.toBe(0);
    expect(again.stderr).toMatch(/account already exists/i);
  });

  it('issue (http-01 via hook) saves a chain that openssl verifies', async () => {
    const result = await uacmeIssue(h, uacme, hook, ['u1.e2e.test', 'u1-alt.e2e.test']);
    expect(result.code, result.stderr).toBe(0);

    const pem = fs.readFileSync(uacmeCertPath(uacme, 'u1.e2e.test'), 'utf8');
    opensslVerify(gateway.rootPemPath, pem, { sans: ['u1.e2e.test', 'u1-alt.e2e.test'] });
    expect(fs.existsSync(uacmeCertKeyPath(uacme, 'u1.e2e.test'))).toBe(true);

    // One accepted http-01 per name, each finished with `done` (not `failed`), and the gateway really
    // fetched every token from the responder.
    const calls = uacmeHookCalls(hook);
    const begun = calls.filter(([m, t]) => m === 'begin' && t === 'http-01');
    expect(begun.map((c) => c[2]).sort()).toEqual(['u1-alt.e2e.test', 'u1.e2e.test']);
    expect(calls.filter(([m]) => m === 'failed')).toEqual([]);
    expect(calls.filter(([m]) => m === 'done').map((c) => c[3]).sort()).toEqual(begun.map((c) => c[3]).sort());
    expect(responder.served().sort()).toEqual(begun.map((c) => c[3]!).sort());
  });

  it('issue again: exit 1 (still current) without -f; with -f a new certificate replaces it', async () => {
    const certPath = uacmeCertPath(uacme, 'u1.e2e.test');
    const before = opensslVerify(gateway.rootPemPath, fs.readFileSync(certPath, 'utf8'));

    const current = await uacmeIssue(h, uacme, hook, ['u1.e2e.test', 'u1-alt.e2e.test']);
    expect(current.code, current.stderr).toBe(1);

    const forced = await uacmeIssue(h, uacme, hook, ['u1.e2e.test', 'u1-alt.e2e.test'], { force: true });
    expect(forced.code, forced.stderr).toBe(0);
    const after = opensslVerify(gateway.rootPemPath, fs.readFileSync(certPath, 'utf8'), { sans: ['u1.e2e.test', 'u1-alt.e2e.test'] });
    expect(after.serial).not.toBe(before.serial);
    // uacme keeps the previous certificate as cert-<timestamp>.pem.
    expect(fs.readdirSync(path.dirname(certPath)).filter((f) => /^cert-\d+\.pem$/.test(f))).toHaveLength(1);
  });

  it('revoke CERTFILE (account-signed, reason 4) → 200; the gateway records the reason', async () => {
    const certPath = uacmeCertPath(uacme, 'u1.e2e.test');
    const cert = opensslVerify(gateway.rootPemPath, fs.readFileSync(certPath, 'utf8'));

    const result = await uacmeRun(h, uacme, ['-r', '4', 'revoke', certPath]);
    expect(result.code, result.stderr).toBe(0);
    // uacme renames the revoked file to revoked-<timestamp>.pem.
    expect(fs.existsSync(certPath)).toBe(false);
    expect(storedRevocation(gateway, cert.serial)).toEqual({ status: 'revoked', reason: 4 });
  });

  it('deactivate: the account is deactivated and can no longer issue', async () => {
    const result = await uacmeRun(h, uacme, ['deactivate']);
    expect(result.code, result.stderr).toBe(0);

    const refused = await uacmeIssue(h, uacme, hook, ['u2.e2e.test']);
    expect(refused.code).toBe(2);
    // uacme's onlyReturnExisting probe is refused with 401 unauthorized (RFC 8555 §7.3.6), and it stops there.
    expect(refused.stderr).toMatch(/new-account payload=\{"onlyReturnExisting":true\}\s+uacme: acme_post: return code 401/);
    expect(refused.stderr).toMatch(/failed to retrieve account/);
    expect(refused.stderr).toMatch(/urn:ietf:params:acme:error:unauthorized/);
    expect(fs.existsSync(uacmeCertPath(uacme, 'u2.e2e.test'))).toBe(false);
  });
});
