import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './support/build.js';
import { requireBinary, requireLibrary } from './support/binaries.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify } from './support/openssl.js';
import { storedRevocation } from './support/protocol.js';
import { startWebrootResponder, type WebrootResponder } from './support/webroot.js';

// Two ACME client libraries from Debian that the other suites do not cover (issue 7):
// - python3-acme 2.1 (the library under certbot): it updates a contact by sending the account back
//   as it read it, with "status" and "termsOfServiceAgreed", which RFC 8555 §7.3.2 says to ignore;
// - ruby-acme-client 2.0.9: it crashes on a directory response that carries a Replay-Nonce.
// Each registers, gets a certificate by http-01 (webroot files served on the validation port), and
// revokes it; the chain is checked with openssl against the simulator root.

const challBin = requireBinary('pebble-challtestsrv');
const python = requireLibrary('python3-acme', '/usr/bin/python3', ['-c', 'import acme.client, josepy'], 'python3-acme');
const ruby = requireLibrary('ruby acme-client', 'ruby', ['-e', 'require "acme-client"'], 'ruby-acme-client');
const h = useHarness('library-clients.test.ts');
const clients = path.join(repoRoot, 'test/e2e/clients');

let gateway: Gateway;
let webroot: WebrootResponder;

beforeAll(async () => {
  if (challBin.skip) return;
  const dns = await startChallTestSrv(h);
  gateway = await startGateway(h, { dnsResolvers: [dns.dnsAddress] });
  webroot = await startWebrootResponder(gateway.validationHttpPort, h.tempDir('webroot'));
});
afterAll(async () => webroot?.close());

function parseOutput(stdout: string): Record<string, any> {
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, any>;
}

describe.skipIf(challBin.skip || python.skip)('python3-acme (certbot\'s library)', () => {
  it('registers, updates its contact with query_registration + update_registration, issues by http-01 and revokes', async () => {
    const run = await h.runOk('/usr/bin/python3', [path.join(clients, 'python-acme.py'), gateway.directoryUrl, gateway.rootPemPath, webroot.dir, 'py.e2e.test'], {
      timeoutMs: 120_000,
    });
    const out = parseOutput(run.stdout);
    expect(out.account.startsWith(`${gateway.externalUrl}/`)).toBe(true);
    expect(out.contactAfterRegistration).toEqual(['mailto:first@e2e.test']);
    expect(out.sentStatus).toBe('valid'); // the update carried "status": "valid" back
    expect(out.contactAfterUpdate).toEqual(['mailto:second@e2e.test']);
    expect(out.contactReadBack).toEqual(['mailto:second@e2e.test']);
    expect(out.statusReadBack).toBe('valid');
    const verified = opensslVerify(gateway.rootPemPath, out.fullchain, { sans: ['py.e2e.test'] });
    // openssl prints the serial with its leading zero byte; the clients print the number.
    expect(BigInt(`0x${verified.serial}`)).toBe(BigInt(`0x${out.serial}`));
    expect(webroot.served().length).toBeGreaterThan(0);
    expect(out.revoked).toBe(true);
    expect(storedRevocation(gateway, out.serial)).toEqual({ status: 'revoked', reason: 4 });
  });
});

describe.skipIf(challBin.skip || ruby.skip)('ruby acme-client 2.0.9', () => {
  it('registers, orders, issues by http-01 and revokes', async () => {
    const servedBefore = webroot.served().length;
    const run = await h.runOk('ruby', [path.join(clients, 'ruby-acme.rb'), gateway.directoryUrl, gateway.rootPemPath, webroot.dir, 'rb.e2e.test'], {
      timeoutMs: 120_000,
    });
    const out = parseOutput(run.stdout);
    expect(out.account.startsWith(`${gateway.externalUrl}/`)).toBe(true);
    expect(out.accountStatus).toBe('valid');
    expect(out.challengeStatus).toBe('valid');
    expect(out.orderStatus).toBe('valid');
    const verified = opensslVerify(gateway.rootPemPath, out.fullchain, { sans: ['rb.e2e.test'] });
    // openssl prints the serial with its leading zero byte; the clients print the number.
    expect(BigInt(`0x${verified.serial}`)).toBe(BigInt(`0x${out.serial}`));
    expect(webroot.served().length).toBeGreaterThan(servedBefore);
    expect(out.revoked).toBe(true);
    expect(storedRevocation(gateway, out.serial)).toEqual({ status: 'revoked', reason: 4 });
  });
});
