import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { eabCommand } from '../../src/cli/eab.js';
import { policyFromFlags } from '../../src/cli/eab-policy.js';

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
      directories: { payments: { pca: { kind: 'simulator', caTag: 'payments-ca' }, policy: { allowedSuffixes: ['payments.corp.test'] } } },
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
    expect(table.split('\n')[0]).toBe('KEY ID\tLABEL\tSTATE\tCREATED\tEXPIRES\tACCOUNT\tPOLICY');
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
    expect(unknown.err).toContain('no directory named "nope" in the configuration (directories: default, payments)');
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
