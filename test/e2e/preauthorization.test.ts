import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './support/binaries.js';
import { gatewayEntry, repoRoot } from './support/build.js';
import { attachCertbotLog, certbotCertonly, type CertbotSetup } from './support/certbot.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import type { LegoSetup } from './support/lego.js';
import { legoHttp01Run } from './support/lego-more.js';
import { opensslVerify } from './support/openssl.js';
import { mintEabKey } from './support/protocol.js';

// Issue 9 item 6: pre-authorized scopes for hosts the gateway cannot reach. The gateway validates
// http-01 on a port where nothing listens (the hosts are "behind NAT"): lego and certbot answer on
// ports of their own the validator never connects to. With an EAB key whose scope covers their
// names, in a directory with policy.preAuthorization, both still get a certificate — no challenge
// is validated — and `eab list` / `eab uses` show every pre-authorized name. A name outside the
// scope fails as it would without pre-authorization: the validator cannot connect.

const legoBin = requireBinary('lego');
const certbotBin = requireBinary('certbot');
const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('preauthorization.test.ts');

interface ListedKey {
  id: string;
  preauthorized: { count: number; lastUsedAt: string } | null;
  preauthorizedScopes: unknown;
}

describe.skipIf(legoBin.skip || certbotBin.skip || challBin.skip)('pre-authorized scopes with lego and certbot, the validation port unreachable', () => {
  let gateway: Gateway;
  /** Where lego and certbot answer http-01: never the port the gateway connects to. */
  let clientPort: number;

  beforeAll(async () => {
    const dns = await startChallTestSrv(h);
    gateway = await startGateway(h, {
      dnsResolvers: [dns.dnsAddress],
      // validationHttpPort: a free port nobody listens on.
      extraConfig: {
        acme: { externalAccountRequired: true },
        policy: { allowedSuffixes: ['e2e.test'], preAuthorization: true },
      },
    });
    clientPort = await h.freePort();
  });

  const mintAgentKey = (label: string) => mintEabKey(h, gateway, label, ['--preauthorize-suffix', 'agents.e2e.test', '--preauthorize-name', 'build-01.e2e.test']);
  const eab = async (...args: string[]) => h.runOk(process.execPath, [gatewayEntry(), 'eab', ...args, '--config', gateway.configPath], { cwd: repoRoot, timeoutMs: 30_000 });

  it('lego gets a certificate for names inside the scope without any challenge being validated', async () => {
    const key = await mintAgentKey('lego-agents');
    const lego: LegoSetup = { directoryUrl: gateway.directoryUrl, caBundlePath: gateway.rootPemPath, basePath: h.tempDir('lego-preauth'), email: 'agents@example.com' };
    const names = ['ci-1.agents.e2e.test', 'build-01.e2e.test'];
    const { files } = await legoHttp01Run(h, lego, names, { httpPort: clientPort, eab: key });
    opensslVerify(gateway.rootPemPath, fs.readFileSync(files.crtPath, 'utf8'), { sans: names });

    const uses = JSON.parse((await eab('uses', key.keyId, '--json')).stdout) as Array<{ identifier: { value: string }; scope: string }>;
    expect(uses.map((u) => [u.identifier.value, u.scope]).sort()).toEqual([
      ['build-01.e2e.test', 'name build-01.e2e.test'],
      ['ci-1.agents.e2e.test', 'suffix agents.e2e.test'],
    ]);
    expect(gateway.process().output()).toMatch(/identifier pre-authorized by the EAB key: authorization valid with no challenge/);
    expect(gateway.process().output()).not.toMatch(/challenge (valid|invalid)/);
  });

  it('certbot too; eab list counts the uses', async () => {
    const key = await mintAgentKey('certbot-agents');
    const certbot: CertbotSetup = { directoryUrl: gateway.directoryUrl, caBundlePath: gateway.rootPemPath, httpPort: clientPort, baseDir: h.tempDir('certbot-preauth') };
    attachCertbotLog(h, certbot);
    const { result, lineage } = await certbotCertonly(h, certbot, ['ci-2.agents.e2e.test'], { extraArgs: ['--eab-kid', key.keyId, '--eab-hmac-key', key.hmacKey] });
    expect(result.stdout + result.stderr).toMatch(/Successfully received certificate/);
    opensslVerify(gateway.rootPemPath, fs.readFileSync(lineage.fullchainPath, 'utf8'), { sans: ['ci-2.agents.e2e.test'] });

    const listed = (JSON.parse((await eab('list', '--json')).stdout) as ListedKey[]).find((k) => k.id === key.keyId)!;
    expect(listed.preauthorized?.count).toBe(1);
    expect(Date.parse(listed.preauthorized!.lastUsedAt)).toBeGreaterThan(Date.now() - 5 * 60_000);
    const row = (await eab('list')).stdout.split('\n').find((l) => l.startsWith(key.keyId))!.split('\t');
    expect(row.slice(-2, -1)).toEqual(['names=build-01.e2e.test suffixes=agents.e2e.test']);
    expect(row.at(-1)).toMatch(/^1, last \d{4}-/);
  });

  it('a name outside the scope needs a challenge, and the unreachable validation port makes it fail', async () => {
    const key = await mintAgentKey('lego-outside');
    const lego: LegoSetup = { directoryUrl: gateway.directoryUrl, caBundlePath: gateway.rootPemPath, basePath: h.tempDir('lego-outside'), email: 'outside@example.com' };
    const { result } = await legoHttp01Run(h, lego, ['web.e2e.test'], { httpPort: clientPort, eab: key, expectOk: false });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/urn:ietf:params:acme:error:connection/);
  });
});
