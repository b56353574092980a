import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { adminTokenPath } from '../../src/config/paths.js';
import { loadAdminToken } from '../../src/platform/admin-token.js';
import { cryptoRandom } from '../../src/platform/random.js';

// The operations configuration (issue 13): admin.* with the token from ACME_ADMIN_TOKEN, webhook
// secrets from their files, the example and the Docker configuration files as shipped.

const dir = mkdtempSync(join(tmpdir(), 'ops-config-'));

describe('admin and notifications configuration', () => {
  it('defaults: admin on 127.0.0.1:14002, the token beside the database, no webhooks', () => {
    const c = parseConfig({});
    expect(c.admin).toEqual({ listen: '127.0.0.1:14002', tokenName: 'admin' });
    expect(adminTokenPath(c)).toBe(resolve('./data/admin.token'));
    expect(adminTokenPath(parseConfig({ storage: { sqlite: '/srv/acme/gw.sqlite' } }))).toBe('/srv/acme/admin.token');
    expect(c.notifications).toEqual({ webhooks: [], expiringWithinDays: 14, expiryScanIntervalMs: 3_600_000 });
  });

  it('ACME_ADMIN_TOKEN becomes the token, unless the file sets one; too short is an error naming the key', () => {
    expect(parseConfig({}, { ACME_ADMIN_TOKEN: 'from-the-environment-123' }).admin.token).toBe('from-the-environment-123');
    expect(parseConfig({ admin: { token: 'from-the-config-file-1234' } }, { ACME_ADMIN_TOKEN: 'from-the-environment-123' }).admin.token).toBe('from-the-config-file-1234');
    expect(() => parseConfig({}, { ACME_ADMIN_TOKEN: 'short' })).toThrow(/admin\.token: the admin token must be at least 16 characters/);
  });

  it('a webhook secret from its file (one trailing newline dropped); a missing file or both forms is an error naming the key, never the secret', () => {
    const file = join(dir, 'hook.secret');
    writeFileSync(file, 'a-webhook-secret-0123456789\n');
    const c = parseConfig({ notifications: { webhooks: [{ url: 'https://hooks.example/acme', secretFile: file, events: ['order.failed'] }] } });
    expect(c.notifications.webhooks[0]).toEqual({ url: 'https://hooks.example/acme', secret: 'a-webhook-secret-0123456789', events: ['order.failed'], timeoutMs: 10_000 });
    expect(() => parseConfig({ notifications: { webhooks: [{ url: 'https://h.example', secretFile: join(dir, 'nope') }] } })).toThrow(/notifications\.webhooks\.0\.secretFile: cannot read .*nope \(ENOENT\)/);
    let err: unknown;
    try {
      parseConfig({ notifications: { webhooks: [{ url: 'https://h.example', secretFile: file, secret: 'inline-secret-value-123' }] } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/not both/);
    expect((err as Error).message).not.toContain('a-webhook-secret');
    expect(() => parseConfig({ notifications: { webhooks: [{ url: 'https://h.example', secret: 'x'.repeat(20), events: ['certificate.lost'] }] } })).toThrow(/notifications\.webhooks\.0\.events\.0/);
  });

  it('the token file is created 0600 at the first start and read after; the environment wins', () => {
    const path = join(dir, 'sub', 'admin.token');
    const first = loadAdminToken(path, cryptoRandom);
    expect(first.source).toBe('created');
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const again = loadAdminToken(path, cryptoRandom);
    expect(again).toEqual({ token: first.token, source: 'file', path });
    expect(loadAdminToken(join(dir, 'unused'), cryptoRandom, 'from-the-environment-123')).toEqual({ token: 'from-the-environment-123', source: 'environment', path: null });
  });

  it('config/gateway.example.yaml and config/docker.yaml are valid configurations', () => {
    for (const file of ['config/gateway.example.yaml', 'config/docker.yaml']) {
      const c = parseConfig(parse(readFileSync(file, 'utf8')));
      expect(c.admin.listen, file).toMatch(/:14002$/);
    }
    expect(parseConfig(parse(readFileSync('config/docker.yaml', 'utf8'))).admin.tokenFile).toBe('/data/admin.token');
  });
});
