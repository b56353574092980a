import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { eabCommand } from '../../src/cli/eab.js';
import { policyFromFlags } from '../../src/cli/eab-policy.js';
import { rateLimitsFromFlags, scopesFromFlags } from '../../src/cli/eab-extras.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';

// `eab create|list|revoke --directory NAME` and the policy flags (issue 9), on a real configuration
// file and database: keys belong to their directory, and a key's rules are stored with it.

let dir: string;
let configPath: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'eab-cli-'));
  configPath = join(dir, 'gateway.yaml');
  writeFileSync(
    configPath,
    stringify({
      storage: { sqlite: join(dir, 'gateway.sqlite') },
      directories: {
        payments: { pca: { kind: 'simulator', caTag: 'payments-ca' }, policy: { allowedSuffixes: ['payments.corp.test'] } },
        agents: { policy: { allowedSuffixes: ['agents.corp.test'], preAuthorization: true } },
      },
    }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => (text += b.toString()));
  let err = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += chunk.toString();
    return true;
  });
  try {
    const code = await eabCommand([...args, '--config', configPath], out);
    return { code, out: text, err };
  } finally {
    spy.mockRestore();
  }
}

describe('eab --directory and policy flags', () => {
  it('create --directory payments with policy flags stores the rules with the key; list shows them, per directory', async () => {
    const created = await run('create', '--label', 'pay-api', '--directory', 'payments', '--allow-suffix', 'api.payments.corp.test', '--deny-name', '.batch.api.payments.corp.test', '--no-wildcards', '--no-ip', '--max-validity-days', '30', '--key-type', 'ecdsa-p256', '--json');
    expect(created.code, created.err).toBe(0);
    const key = JSON.parse(created.out) as { keyId: string; directory: string; policy: unknown };
    expect(key.directory).toBe('payments');
    expect(key.policy).toEqual({
      allowedSuffixes: ['api.payments.corp.test'],
      deniedNames: ['.batch.api.payments.corp.test'],
      allowedIpCidrs: [],
      wildcards: false,
      keyTypes: ['ecdsa-p256'],
      maxValidityDays: 30,
    });

    const listed = JSON.parse((await run('list', '--directory', 'payments', '--json')).out) as Array<{ id: string; directory: string; policy: unknown }>;
    expect(listed.map((k) => [k.id, k.directory])).toEqual([[key.keyId, 'payments']]);
    expect(listed[0]!.policy).toEqual(key.policy);
    expect(JSON.parse((await run('list', '--json')).out)).toEqual([]);

    const table = (await run('list', '--directory', 'payments')).out;
    expect(table.split('\n')[0]).toBe('KEY ID\tLABEL\tSTATE\tCREATED\tEXPIRES\tACCOUNT\tPOLICY\tRATE LIMITS\tPRE-AUTHORIZED\tPRE-AUTHORIZED USES');
    expect(table).toContain('allowedSuffixes=api.payments.corp.test deniedNames=.batch.api.payments.corp.test allowedIpCidrs=(none) wildcards=false keyTypes=ecdsa-p256 maxValidityDays=30');
  });

  it('a key without policy flags has none; revoke needs the key\'s own directory', async () => {
    const created = JSON.parse((await run('create', '--label', 'plain', '--json')).out) as { keyId: string; directory: string; policy: unknown };
    expect(created).toMatchObject({ directory: 'default', policy: null });
    expect((await run('revoke', created.keyId, '--directory', 'payments')).code).toBe(1);
    expect((await run('revoke', created.keyId)).code).toBe(0);
  });

  it('an unknown directory, a bad flag value and contradicting flags stop with exit code 2 and say why', async () => {
    const unknown = await run('list', '--directory', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('no directory named "nope" in the configuration (directories: default, payments, agents)');
    const bad = await run('create', '--label', 'x', '--allow-ip', '10.0.0.0/33');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--allow-ip "10.0.0.0/33": expected an IP address or CIDR range');
    expect((await run('create', '--label', 'x', '--allow-ip', '10.0.0.0/8', '--no-ip')).err).toContain('--no-ip and --allow-ip contradict each other');
    expect((await run('create', '--label', 'x', '--max-identifiers', 'many')).err).toMatch(/--max-identifiers: /);
  });

  it('create notes what a key allows that its directory does not (it has no effect)', async () => {
    const r = await run('create', '--label', 'wide', '--directory', 'payments', '--allow-suffix', 'other.test', '--json');
    expect(r.code).toBe(0);
    expect(r.err).toContain("note: --allow-suffix other.test is outside the directory's allowedSuffixes (payments.corp.test): names under it stay refused");
  });
});

describe('eab rate-limit and pre-authorization flags (issue 9)', () => {
  it('create stores rate limits and scopes with the key; list shows them and how often the scopes were used; uses lists each', async () => {
    const created = await run(
      'create', '--label', 'ci', '--directory', 'agents', '--rate-new-orders', '50/3h', '--rate-pending-orders', '0', '--rate-failed-validations', '3',
      '--preauthorize-suffix', 'Pool.Agents.corp.test', '--preauthorize-name', 'ci.agents.corp.test', '--preauthorize-cidr', '10.30.0.0/16', '--json',
    );
    expect(created.code, created.err).toBe(0);
    expect(created.err).toBe('');
    const key = JSON.parse(created.out) as { keyId: string; rateLimits: unknown; preauthorizedScopes: unknown };
    expect(key.rateLimits).toEqual({ newOrdersPerAccount: { limit: 50, windowSeconds: 10_800 }, pendingOrdersPerAccount: 0, failedValidationsPerIdentifier: 3 });
    expect(key.preauthorizedScopes).toEqual({ names: ['ci.agents.corp.test'], suffixes: ['pool.agents.corp.test'], cidrs: ['10.30.0.0/16'] });

    // One use of its scopes, as newOrder records it.
    const store = openSqliteStore({ path: join(dir, 'gateway.sqlite') });
    try {
      const { account } = await store.accounts.createOrGet({ id: 'acct-ci', directory: 'agents', jwk: { kty: 'EC', x: 'x' }, thumbprint: 'tp-ci', contact: [], termsOfServiceAgreed: true, eabKeyId: key.keyId, now: new Date(Date.UTC(2026, 0, 2)) });
      await store.orders.createWithAuthorizations({
        id: 'order-ci', directory: 'agents', accountId: account.id, identifiers: [{ type: 'dns', value: 'b7.pool.agents.corp.test' }], notBefore: null, notAfter: null, profile: null,
        replaces: null, replacesCertificateId: null, expires: new Date(Date.UTC(2026, 0, 9)), now: new Date(Date.UTC(2026, 0, 2)),
        authorizations: [{ id: 'authz-ci', identifier: { type: 'dns', value: 'b7.pool.agents.corp.test' }, wildcard: false, expires: new Date(Date.UTC(2026, 0, 9)), challenges: [], preauthorized: { eabKeyId: key.keyId, scope: 'suffix pool.agents.corp.test' } }],
      });
    } finally {
      await store.close();
    }
    const row = (await run('list', '--directory', 'agents')).out.split('\n').find((l) => l.startsWith(key.keyId))!.split('\t');
    expect(row.slice(2, 3)).toEqual(['bound']);
    expect(row.slice(7)).toEqual([
      'newOrdersPerAccount=50/3h failedValidationsPerIdentifier=3 pendingOrdersPerAccount=0',
      'names=ci.agents.corp.test suffixes=pool.agents.corp.test cidrs=10.30.0.0/16',
      '1, last 2026-01-02T00:00:00.000Z',
    ]);
    const listed = JSON.parse((await run('list', '--directory', 'agents', '--json')).out) as Array<{ id: string; preauthorized: unknown }>;
    expect(listed.find((k) => k.id === key.keyId)!.preauthorized).toEqual({ count: 1, lastUsedAt: '2026-01-02T00:00:00.000Z' });
    const uses = await run('uses', key.keyId, '--directory', 'agents');
    expect(uses.out).toBe(`USED AT\tIDENTIFIER\tSCOPE\tORDER\tACCOUNT\n2026-01-02T00:00:00.000Z\tb7.pool.agents.corp.test\tsuffix pool.agents.corp.test\torder-ci\tacct-ci\n`);
    expect((await run('uses', key.keyId)).code).toBe(1);
  });

  it('create says when the scopes are ignored (preAuthorization off) or refused by the policy anyway', async () => {
    const off = await run('create', '--label', 'nat', '--directory', 'payments', '--preauthorize-suffix', 'hosts.payments.corp.test', '--preauthorize-suffix', 'other.test');
    expect(off.code).toBe(0);
    expect(off.err).toContain('note: directory payments has policy.preAuthorization off: these scopes are ignored (nothing is pre-authorized) until it is set to true');
    expect(off.err).toContain("note: --preauthorize-suffix other.test is outside the directory's allowedSuffixes (payments.corp.test): the policy still refuses names under it");
    expect(off.out).toContain('Pre-authorized: suffixes=hosts.payments.corp.test,other.test (ignored: the directory has policy.preAuthorization off)');
    expect(off.out).toContain("Rate limits: the directory's");
  });

  it('a bad rate or scope value stops with exit code 2 naming the flag', async () => {
    for (const [flag, value, message] of [
      ['--rate-new-orders', 'lots', '--rate-new-orders "lots": expected a count or COUNT/WINDOW (e.g. 50/3h)'],
      ['--rate-pending-orders', '5/1h', '--rate-pending-orders "5/1h": expected a count'],
      ['--rate-new-accounts', '5/0s', '--rate-new-accounts: '],
      ['--preauthorize-cidr', '10.0.0.0/99', '--preauthorize-cidr "10.0.0.0/99": expected an IP address or CIDR range'],
      ['--preauthorize-name', 'bad..name', '--preauthorize-name "bad..name": expected a DNS name'],
    ] as const) {
      const r = await run('create', '--label', 'x', flag, value);
      expect(r.code, `${flag} ${value}`).toBe(2);
      expect(r.err).toContain(message);
    }
  });

  it('the flag parsers: none given → null; a count alone keeps the directory\'s window', () => {
    expect(rateLimitsFromFlags({})).toBeNull();
    expect(scopesFromFlags({})).toBeNull();
    expect(rateLimitsFromFlags({ 'rate-new-accounts': '5', 'rate-concurrent-validations': '20', 'rate-new-orders': '7/90m' })).toEqual({
      newAccountsPerIp: { limit: 5 },
      concurrentValidationsPerAccount: 20,
      newOrdersPerAccount: { limit: 7, windowSeconds: 5400 },
    });
    expect(scopesFromFlags({ 'preauthorize-name': ['*.Build.corp.test'] })).toEqual({ names: ['*.build.corp.test'] });
  });
});

describe('policyFromFlags', () => {
  it('no policy flag → null; each flag sets its key', () => {
    expect(policyFromFlags({})).toBeNull();
    expect(policyFromFlags({ 'allow-name': ['A.Test'], 'allow-ip': ['10.0.0.0/8'], 'max-identifiers': '5', 'allow-challenge': ['dns-01'], 'min-rsa-bits': '3072' })).toEqual({
      allowedNames: ['a.test'],
      allowedIpCidrs: ['10.0.0.0/8'],
      maxIdentifiers: 5,
      allowedChallenges: ['dns-01'],
      minRsaBits: 3072,
    });
    expect(() => policyFromFlags({ 'allow-challenge': ['http-02'] })).toThrow(/^--allow-challenge "http-02": /);
    expect(() => policyFromFlags({ 'min-rsa-bits': '1024' })).toThrow(/^--min-rsa-bits: /);
  });
});
