import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROUTES, RESERVED_DIRECTORY_NAMES as LINKS_RESERVED } from '../acme/links.js';
import { ConfigError, loadConfig, parseConfig } from './load.js';
import { RESERVED_DIRECTORY_NAMES } from './policy-schema.js';

describe('parseConfig', () => {
  it('fills every default from an empty document', () => {
    const c = parseConfig({});
    expect(c.server.listen).toBe('127.0.0.1:14000');
    expect(c.server.externalUrl).toBe('https://localhost:14000');
    expect(c.server.tls.mode).toBe('pca');
    expect(c.storage.sqlite).toBe('./data/gateway.sqlite');
    expect(c.validation).toMatchObject({ httpPort: 80, tlsAlpnPort: 443, dnsResolvers: [] });
    expect(c.pca).toMatchObject({ kind: 'simulator', period: 90 });
    expect(c.simulator).toMatchObject({ listen: '127.0.0.1:14001', dataDir: './data/pca-simulator' });
  });

  it('names the bad key', () => {
    expect(() => parseConfig({ validation: { httpPort: 'eighty' } })).toThrow(/validation\.httpPort/);
    expect(() => parseConfig({ server: { lisen: 'x' } })).toThrow(/unknown key: lisen/);
    expect(() => parseConfig({ server: { listen: 'nope' } })).toThrow(ConfigError);
  });

  it('requires credentials for the ncp kind and takes them from the environment', () => {
    expect(() => parseConfig({ pca: { kind: 'ncp', endpoint: 'https://pca.example', caTag: 'a-b' } })).toThrow(/pca\.accessKey/);
    const c = parseConfig(
      { pca: { kind: 'ncp', endpoint: 'https://pca.example', caTag: 'a-b' } },
      { NCP_ACCESS_KEY: 'ak', NCP_SECRET_KEY: 'sk' },
    );
    expect(c.pca.accessKey).toBe('ak');
    expect(c.pca.secretKey).toBe('sk');
  });

  it('tls mode files needs both files; an unknown mode is refused by name', () => {
    expect(() => parseConfig({ server: { tls: { mode: 'files', certFile: 'a.pem' } } })).toThrow(/certFile and tls\.keyFile/);
    expect(() => parseConfig({ server: { tls: { mode: 'acme' } } })).toThrow(/server\.tls\.mode/);
    expect(parseConfig({ server: { tls: { mode: 'files', certFile: 'a.pem', keyFile: 'k.pem' } } }).server.tls).toMatchObject({ mode: 'files' });
  });

  it('a profile named as default must exist', () => {
    expect(() => parseConfig({ acme: { defaultProfile: 'short' } })).toThrow(/acme\.defaultProfile/);
  });
});

describe('directories and policy (issue 9)', () => {
  const payments = {
    pca: { kind: 'simulator', caTag: 'payments-ca', period: 30 },
    policy: { allowedSuffixes: ['payments.corp.test'], deniedNames: ['admin.payments.corp.test'], wildcards: false },
  };

  it('takes the documented shape; the default directory has an empty policy', () => {
    const c = parseConfig({ directories: { payments } });
    expect(c.policy).toEqual({});
    expect(c.directories.payments!.pca).toMatchObject({ kind: 'simulator', caTag: 'payments-ca', period: 30, timeoutMs: 30_000 });
    expect(c.directories.payments!.policy).toEqual({ allowedSuffixes: ['payments.corp.test'], deniedNames: ['admin.payments.corp.test'], wildcards: false });
    expect(c.directories.payments!.acme).toEqual({});
    expect(parseConfig({}).directories).toEqual({});
  });

  it('spells policy names the way the rules compare them, and names a bad entry', () => {
    const c = parseConfig({ policy: { allowedSuffixes: ['.Payments.Corp.Test.'], allowedNames: ['*.Apps.Corp.Test'], deniedNames: ['.Internal.Corp'] } });
    expect(c.policy).toEqual({ allowedSuffixes: ['payments.corp.test'], allowedNames: ['*.apps.corp.test'], deniedNames: ['.internal.corp'] });
    expect(parseConfig({ policy: { deniedNames: ['*.Legacy.Test', 'a.test'] } }).policy.deniedNames).toEqual(['*.legacy.test', 'a.test']);
    expect(() => parseConfig({ policy: { deniedNames: ['a.*.test'] } })).toThrow(/policy\.deniedNames\.0/);
    expect(() => parseConfig({ policy: { allowedSuffixes: ['bad_name.test'] } })).toThrow(/policy\.allowedSuffixes\.0/);
    expect(() => parseConfig({ policy: { allowedIpCidrs: ['10.0.0.0/33'] } })).toThrow(/policy\.allowedIpCidrs\.0: expected an IP address or CIDR/);
    expect(() => parseConfig({ policy: { wildcard: false } })).toThrow(/unknown key: wildcard/);
    expect(() => parseConfig({ policy: { keyTypes: ['ed25519'] } })).toThrow(/policy\.keyTypes\.0/);
    expect(() => parseConfig({ policy: { allowedChallenges: [] } })).toThrow(/policy\.allowedChallenges/);
    expect(() => parseConfig({ policy: { minRsaBits: 1024 } })).toThrow(/policy\.minRsaBits/);
  });

  it.each(['Payments', 'a_b', '-x', 'x-', 'a/b', '', 'x'.repeat(64)])('refuses the directory name %j (a path segment)', (name) => {
    expect(() => parseConfig({ directories: { [name]: {} } })).toThrow(/must be 1-63 lower-case letters/);
  });

  it.each(['default', 'directory', 'new-order', 'acct', 'order', 'chall', 'cert', 'renewal-info', 'readyz', 'metrics'])('refuses %j: a route of the gateway has it', (name) => {
    expect(() => parseConfig({ directories: { [name]: {} } })).toThrow(new RegExp(`directories\\.${name}: directory name "${name}" is taken by a route`));
  });

  it('reserves exactly the first segments the router serves outside directories (acme/links.ts)', () => {
    expect([...RESERVED_DIRECTORY_NAMES].sort()).toEqual([...LINKS_RESERVED].sort());
    for (const path of Object.values(ROUTES)) expect(RESERVED_DIRECTORY_NAMES).toContain(path.split('/')[1]);
  });

  it('a simulator directory gets its own CA named after it unless it names a caTag; a tag that is a data file is refused', () => {
    expect(parseConfig({ directories: { platform: {} } }).directories.platform!.pca.caTag).toBe('platform');
    expect(() => parseConfig({ directories: { x: { pca: { caTag: 'ca' } } } })).toThrow(/directories\.x\.pca\.caTag: caTag "ca" is the name of a file/);
    expect(() => parseConfig({ directories: { x: { pca: { caTag: '../up' } } } })).toThrow(/directories\.x\.pca\.caTag/);
  });

  it('an ncp directory needs its endpoint and caTag; credentials may be the top-level ones (env included)', () => {
    expect(() => parseConfig({ directories: { x: { pca: { kind: 'ncp', caTag: 't' } } } })).toThrow(/directories\.x\.pca\.endpoint/);
    expect(() => parseConfig({ directories: { x: { pca: { kind: 'ncp', endpoint: 'https://pca.example', caTag: 't' } } } })).toThrow(
      /directories\.x\.pca\.accessKey: .*or the top-level pca\.accessKey/,
    );
    const c = parseConfig({ directories: { x: { pca: { kind: 'ncp', endpoint: 'https://pca.example', caTag: 't' } } } }, { NCP_ACCESS_KEY: 'ak', NCP_SECRET_KEY: 'sk' });
    expect(c.directories.x!.pca).toMatchObject({ accessKey: 'ak', secretKey: 'sk' });
    const own = parseConfig({ directories: { x: { pca: { kind: 'ncp', endpoint: 'https://pca.example', caTag: 't', accessKey: 'a2', secretKey: 's2' } } } }, { NCP_ACCESS_KEY: 'ak', NCP_SECRET_KEY: 'sk' });
    expect(own.directories.x!.pca).toMatchObject({ accessKey: 'a2', secretKey: 's2' });
  });

  it('a directory pca refuses the gateway-wide job settings; its acme takes only per-directory keys', () => {
    expect(() => parseConfig({ directories: { x: { pca: { issuanceConcurrency: 2 } } } })).toThrow(/unknown key: issuanceConcurrency/);
    expect(() => parseConfig({ directories: { x: { acme: { profiles: {} } } } })).toThrow(/unknown key: profiles/);
    expect(parseConfig({ directories: { x: { acme: { externalAccountRequired: true } } } }).directories.x!.acme).toEqual({ externalAccountRequired: true });
  });
});

describe('documented configurations parse (issue 9)', () => {
  const root = new URL('../../', import.meta.url);

  it('config/gateway.example.yaml', () => {
    const c = loadConfig(fileURLToPath(new URL('config/gateway.example.yaml', root)));
    expect(c.policy).toEqual({});
    expect(c.directories).toEqual({});
  });

  it('the README example of two teams with two CAs', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const block = /### Two teams, two CAs\n\n```yaml\n([\s\S]+?)```/.exec(readme);
    expect(block, 'README has the "Two teams, two CAs" example').not.toBeNull();
    const c = parseConfig(parseYaml(block![1]!), { NCP_ACCESS_KEY: 'ak', NCP_SECRET_KEY: 'sk' });
    expect(Object.keys(c.directories)).toEqual(['payments', 'platform']);
    expect(c.directories.payments!.pca).toMatchObject({ kind: 'ncp', accessKey: 'ak', period: 30 });
    expect(c.directories.payments!.policy.maxValidityDays).toBe(30);
  });
});
