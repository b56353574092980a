import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROUTES, RESERVED_DIRECTORY_NAMES as LINKS_RESERVED } from '../acme/links.js';
import { ConfigError, loadConfig, parseConfig } from './load.js';
import { RESERVED_DIRECTORY_NAMES } from './policy-schema.js';
import { RATE_LIMIT_DEFAULTS } from './rate-limits-schema.js';

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

  it('storage: SQLite by default; postgres instead of it, with pool and timeout defaults', () => {
    expect(parseConfig({}).storage).toMatchObject({ sqlite: './data/gateway.sqlite', poolSize: 10, statementTimeoutMs: 5000, connectTimeoutMs: 5000 });
    expect(parseConfig({}).storage.postgres).toBeUndefined();
    const pg = parseConfig({ storage: { postgres: 'postgres://acme@db.internal:5432/acme', poolSize: 20 } }).storage;
    expect(pg).toMatchObject({ postgres: 'postgres://acme@db.internal:5432/acme', poolSize: 20 });
    expect(pg.sqlite).toBeUndefined();
    expect(() => parseConfig({ storage: { sqlite: 'x.sqlite', postgres: 'postgres://h/db' } })).toThrow(/keep one/);
    expect(() => parseConfig({ storage: { postgres: 'mysql://h/db' } })).toThrow(/storage\.postgres/);
    expect(() => parseConfig({ storage: { postgres: 'postgres://h/db', poolSize: 1 } })).toThrow(/storage\.poolSize/);
  });

  it('storage: the PostgreSQL password from PGPASSWORD only when the configuration gives none', () => {
    const env = { PGPASSWORD: 'from-env' };
    expect(parseConfig({ storage: { postgres: 'postgres://acme@h/db' } }, env).storage.postgresPassword).toBe('from-env');
    expect(parseConfig({ storage: { postgres: 'postgres://acme:in-url@h/db' } }, env).storage.postgresPassword).toBeUndefined();
    expect(parseConfig({ storage: { postgres: 'postgres://acme@h/db', postgresPasswordFile: '/run/secrets/pg' } }, env).storage).toMatchObject({
      postgresPasswordFile: '/run/secrets/pg',
    });
    expect(parseConfig({ storage: { postgres: 'postgres://acme@h/db', postgresPasswordFile: '/run/secrets/pg' } }, env).storage.postgresPassword).toBeUndefined();
    expect(parseConfig({}, env).storage.postgresPassword).toBeUndefined(); // SQLite: the variable means nothing
    expect(() => parseConfig({ storage: { postgres: 'postgres://acme@h/db', postgresPassword: 'a', postgresPasswordFile: 'f' } })).toThrow(/once/);
    expect(() => parseConfig({ storage: { postgres: 'postgres://acme:p@h/db', postgresPassword: 'a' } })).toThrow(/keep one/);
    expect(() => parseConfig({ storage: { postgresPasswordFile: 'f' } })).toThrow(/storage\.postgres/);
  });

  it('validation: address-policy ranges and per-zone resolvers, each bad entry named', () => {
    const c = parseConfig({});
    expect(c.validation).toMatchObject({ allowedCidrs: [], deniedCidrs: [], dnsResolversByZone: {} });
    const set = parseConfig({
      validation: {
        allowedCidrs: ['10.20.0.0/16', '127.0.0.1', 'fd00::/8'],
        deniedCidrs: ['10.0.0.0/8'],
        dnsResolversByZone: { 'Corp.Internal.': ['10.0.0.53:53', '10.0.0.54'] },
      },
    });
    expect(set.validation.allowedCidrs).toEqual(['10.20.0.0/16', '127.0.0.1', 'fd00::/8']);
    expect(set.validation.dnsResolversByZone).toEqual({ 'corp.internal': ['10.0.0.53:53', '10.0.0.54'] });
    expect(() => parseConfig({ validation: { allowedCidrs: ['10.0.0.0/33'] } })).toThrow(/validation\.allowedCidrs\.0/);
    expect(() => parseConfig({ validation: { deniedCidrs: ['example.com'] } })).toThrow(/validation\.deniedCidrs\.0/);
    expect(() => parseConfig({ validation: { dnsResolversByZone: { 'corp.internal': [] } } })).toThrow(/dnsResolversByZone/);
    expect(() => parseConfig({ validation: { dnsResolversByZone: { 'bad zone!': ['10.0.0.53'] } } })).toThrow(/dnsResolversByZone/);
  });

  it('caa: off unless set; issuer domains required and normalised; the recheck window defaults to 8 hours', () => {
    expect(parseConfig({}).caa).toBeUndefined();
    expect(parseConfig({ caa: { issuerDomains: ['PKI.Corp.Test.'] } }).caa).toEqual({ issuerDomains: ['pki.corp.test'], recheckAfterSeconds: 28_800 });
    expect(parseConfig({ caa: { issuerDomains: ['pki.corp.test'], recheckAfterSeconds: 0 } }).caa?.recheckAfterSeconds).toBe(0);
    expect(() => parseConfig({ caa: { issuerDomains: [] } })).toThrow(/caa\.issuerDomains/);
    expect(() => parseConfig({ caa: { issuerDomains: ['not a name'] } })).toThrow(/caa\.issuerDomains\.0/);
    expect(() => parseConfig({ caa: { issuerDomains: ['pki.corp.test'], recheck: 1 } })).toThrow(/unknown key: recheck/);
  });
});

describe('pca.secretKeyFile and pca.accessKeyFile', () => {
  const ncp = { kind: 'ncp', endpoint: 'https://pca.example', caTag: 'a-b' };
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'config-secrets-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  const refusal = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('reads both keys from files, dropping one trailing newline (LF or CRLF) and nothing else', () => {
    const c = parseConfig({ pca: { ...ncp, secretKeyFile: file('sk', 'S3cr3t-with-space \n'), accessKeyFile: file('ak', 'AK123\r\n') } });
    expect(c.pca.secretKey).toBe('S3cr3t-with-space ');
    expect(c.pca.accessKey).toBe('AK123');
    expect(parseConfig({ pca: { ...ncp, accessKey: 'ak', secretKeyFile: file('bare', 'bare') } }).pca.secretKey).toBe('bare');
  });

  it('a file wins over the environment', () => {
    const c = parseConfig({ pca: { ...ncp, secretKeyFile: file('sk2', 'from-file\n') } }, { NCP_ACCESS_KEY: 'ak', NCP_SECRET_KEY: 'from-env' });
    expect(c.pca.secretKey).toBe('from-file');
    expect(c.pca.accessKey).toBe('ak');
  });

  it('the same keys under each directory are read too', () => {
    // Only the reading is this test's business (it happens before the schema looks at directories).
    const missing = refusal(() => parseConfig({ directories: { payments: { pca: { secretKeyFile: join(dir, 'none') } } } }));
    expect(missing).toMatch(/directories\.payments\.pca\.secretKeyFile: cannot read .*none \(ENOENT\)/);
  });

  it('a missing, unreadable, empty or multi-line file is a config error naming the key and path, never the content', () => {
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'missing'), /pca\.secretKeyFile: cannot read .*missing \(ENOENT\)/],
      [dir, /pca\.secretKeyFile: cannot read .* \(EISDIR\)/],
      [file('empty', '\n'), /pca\.secretKeyFile: .*empty is empty/],
      [file('two-lines', 'NCP_SECRET_KEY=hunter2-secret\nother\n'), /pca\.secretKeyFile: .*two-lines has more than one line/],
    ];
    for (const [path, detail] of cases) {
      const message = refusal(() => parseConfig({ pca: { ...ncp, accessKey: 'ak', secretKeyFile: path } }, {}, 'gateway.yaml'));
      expect(message).toMatch(/^invalid configuration in gateway\.yaml:/);
      expect(message).toMatch(detail);
      expect(message).not.toContain('hunter2');
    }
    if (process.getuid?.() !== 0) {
      const locked = file('locked', 'locked-secret');
      chmodSync(locked, 0o000);
      expect(refusal(() => parseConfig({ pca: { ...ncp, accessKey: 'ak', secretKeyFile: locked } }))).toMatch(/cannot read .*locked \(EACCES\)/);
    }
  });

  it('a key and its file together are refused; so is a file path that is not a string', () => {
    expect(refusal(() => parseConfig({ pca: { ...ncp, accessKey: 'ak', secretKey: 'x', secretKeyFile: file('sk4', 'y') } }))).toMatch(/set pca\.secretKey or pca\.secretKeyFile, not both/);
    expect(refusal(() => parseConfig({ pca: { ...ncp, accessKey: 'ak', secretKeyFile: 5 } }))).toMatch(/pca\.secretKeyFile: expected the path of a file/);
  });

  it('the ncp kind without a secret names the file key as a way to give it', () => {
    expect(refusal(() => parseConfig({ pca: { ...ncp, accessKey: 'ak' } }))).toMatch(/needs pca\.secretKey \(or pca\.secretKeyFile, or env NCP_SECRET_KEY\)/);
  });

  it('a config error elsewhere does not repeat the secret', () => {
    const message = refusal(() => parseConfig({ server: { lisen: 'x' }, pca: { ...ncp, accessKey: 'AKIDX', secretKey: 'hunter2-secret' } }));
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('AKIDX');
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

describe('rate limits and pre-authorization (issue 9)', () => {
  it('defaults for every limit, per directory; a number is a count with the default window; 0 is off', () => {
    const c = parseConfig({ rateLimits: { newOrdersPerAccount: 50, pendingOrdersPerAccount: 0 }, directories: { x: { rateLimits: { newAccountsPerIp: { limit: 3 } } } } });
    expect(c.rateLimits).toEqual({ ...RATE_LIMIT_DEFAULTS, newOrdersPerAccount: { limit: 50, windowSeconds: 3600 }, pendingOrdersPerAccount: 0 });
    // A directory's keys left out are the defaults, not the top level's.
    expect(c.directories.x!.rateLimits).toEqual({ ...RATE_LIMIT_DEFAULTS, newAccountsPerIp: { limit: 3, windowSeconds: 3600 } });
    expect(parseConfig({}).rateLimits).toEqual(RATE_LIMIT_DEFAULTS);
    expect(parseConfig({}).server.trustProxyHeaders).toBe(false);
  });

  it('a bad limit is named', () => {
    expect(() => parseConfig({ rateLimits: { newOrdersPerAccount: -1 } })).toThrow(/rateLimits\.newOrdersPerAccount/);
    expect(() => parseConfig({ rateLimits: { newOrders: 5 } })).toThrow(/unknown key: newOrders/);
    expect(() => parseConfig({ rateLimits: { newAccountsPerIp: { limit: 1, windowSeconds: 0 } } })).toThrow(/rateLimits\.newAccountsPerIp/);
    expect(() => parseConfig({ directories: { x: { rateLimits: { concurrentValidationsPerAccount: 1.5 } } } })).toThrow(/directories\.x\.rateLimits\.concurrentValidationsPerAccount/);
  });

  it('policy.preAuthorization is off unless true', () => {
    expect(parseConfig({}).policy.preAuthorization).toBeUndefined();
    expect(parseConfig({ directories: { x: { policy: { preAuthorization: true } } } }).directories.x!.policy.preAuthorization).toBe(true);
    expect(() => parseConfig({ policy: { preAuthorization: 'yes' } })).toThrow(/policy\.preAuthorization/);
  });
});

describe('documented configurations parse (issue 9)', () => {
  const root = new URL('../../', import.meta.url);

  it('config/gateway.example.yaml', () => {
    const c = loadConfig(fileURLToPath(new URL('config/gateway.example.yaml', root)));
    expect(c.policy).toEqual({});
    expect(c.directories).toEqual({});
    expect(c.rateLimits).toEqual(RATE_LIMIT_DEFAULTS);
    expect(c.server.trustProxyHeaders).toBe(false);
  });

  it('the README examples of rate limits and pre-authorized scopes', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const limits = /## Rate limits\n[\s\S]+?```yaml\n([\s\S]+?)```/.exec(readme);
    expect(limits, 'README has a rate limits example').not.toBeNull();
    const c = parseConfig(parseYaml(limits![1]!));
    expect(c.rateLimits).toMatchObject({ newOrdersPerAccount: { limit: 300, windowSeconds: 10_800 }, newAccountsPerIp: { limit: 20, windowSeconds: 3600 }, pendingOrdersPerAccount: 0 });
    expect(c.directories.payments!.rateLimits.newOrdersPerAccount).toEqual({ limit: 50, windowSeconds: 3600 });
    const scopes = /### Pre-authorized scopes\n[\s\S]+?```yaml\n([\s\S]+?)```/.exec(readme);
    expect(scopes, 'README has a pre-authorization example').not.toBeNull();
    expect(parseConfig(parseYaml(scopes![1]!)).directories.agents!.policy.preAuthorization).toBe(true);
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
