import { X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { FlattenedSign } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeProblem } from '../../src/acme/problems.js';
import { EabKeySealer } from '../../src/platform/key-sealer.js';
import { dbCommand } from '../../src/cli/db.js';
import { eabKekPath } from '../../src/config/paths.js';
import { systemClock } from '../../src/platform/clock.js';
import { cryptoRandom } from '../../src/platform/random.js';
import { EabKeyService } from '../../src/services/eab-keys.js';
import { COPIED_TABLES } from '../../src/store/copy.js';
import { AcmeTestClient, b64u, startTestGateway, type TestGateway } from '../harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-db.js';

// `db copy` on a database populated by real issuance through the routes (certificates, one of them
// revoked, a failed and a pending order, EAB keys bound and unused, jobs, issuance attempts, used
// nonces, the nonce HMAC key), then compared row for row with the PostgreSQL copy, which a gateway
// then serves from as if nothing had moved.

let sqliteGw: TestGateway;
let target: TestDatabase;
let client: AcmeTestClient;
const before: { certUrl: string; chain: string; orderUrl: string; unusedNonce: string; usedNonce: string } = {} as never;

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    }),
    text: () => text,
  };
}

async function copy(...extra: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const code = await dbCommand(['copy', '--from', `sqlite:${sqliteGw.sqlitePath}`, '--to', `postgres:${target.url}`, ...extra], out.stream, err.stream);
  return { code, out: out.text(), err: err.text() };
}

/** Every value as text (BOOLEAN and 0/1 alike, BYTEA and BLOB as hex), so the two sides compare. */
const norm = (v: unknown): string | null => (v === null ? null : Buffer.isBuffer(v) ? `hex:${v.toString('hex')}` : typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
const normRows = (rows: Record<string, unknown>[], drop: string[] = []) =>
  rows
    .map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !drop.includes(k)).map(([k, v]) => [k, norm(v)])))
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

async function pgRows(sql: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: target.url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  sqliteGw = await startTestGateway({ store: 'sqlite' });
  const t = sqliteGw;
  client = await AcmeTestClient.withAccount(t);
  const one = await client.issue(['copy1.example.com']);
  await client.issue(['copy2.example.com', 'www.copy2.example.com']);
  const revoked = await client.issue(['copy3.example.com']);
  const revokedPem = (await client.download(revoked.certUrl)).text;
  const leaf = new X509Certificate(revokedPem.slice(0, revokedPem.indexOf('-----END CERTIFICATE-----') + 25));
  expect((await client.post(t.url('revokeCert'), { certificate: b64u(leaf.raw), reason: 4 })).status).toBe(200);
  // A failed order, and one left pending.
  t.validators.fail(new AcmeProblem('incorrectResponse', 'the key authorization did not match'), { value: 'fails.example.com' });
  const failing = await client.newOrder(['fails.example.com']);
  await client.completeAuthorizations(failing.body);
  expect((await client.poll(failing.location!, (b) => b.status === 'invalid')).body.status).toBe('invalid');
  await client.newOrder(['pending.example.com']);
  // EAB keys: one bound to an account made with it, one never used.
  const eab = new EabKeyService(t.gw.store, EabKeySealer.fromFile(eabKekPath(t.gw.config)), systemClock, cryptoRandom);
  const bound = await eab.create('default', 'bound', null);
  await eab.create('default', 'unused', new Date(Date.now() + 86_400_000));
  const eabClient = await AcmeTestClient.create(t);
  const binding = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(eabClient.key.publicJwk)))
    .setProtectedHeader({ alg: 'HS256', kid: bound.keyId, url: t.url('newAccount') })
    .sign(Buffer.from(bound.hmacKey, 'base64url'));
  expect((await eabClient.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: binding })).status).toBe(201);

  before.certUrl = one.certUrl;
  before.orderUrl = one.orderUrl;
  before.chain = (await client.download(one.certUrl)).text;
  before.usedNonce = await client.nonce();
  expect((await client.postAsGet(one.orderUrl, { nonce: before.usedNonce })).status).toBe(200);
  before.unusedNonce = await client.nonce();
  await sqliteGw.close();
  target = await createTestDatabase(undefined, 'copy');
}, 120_000);

afterAll(async () => {
  await sqliteGw?.dispose();
  await target?.drop();
});

describe('db copy --from sqlite:FILE --to postgres:URL', () => {
  it('copies every table in one go and reports the rows of each', async () => {
    const r = await copy();
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const source = new Database(sqliteGw.sqlitePath, { readonly: true });
    try {
      for (const table of COPIED_TABLES) {
        const n = (source.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
        expect(r.out).toMatch(new RegExp(`^  ${table} +${n}$`, 'm'));
      }
    } finally {
      source.close();
    }
    expect(r.out).not.toContain(new URL(target.url).password); // the password is not printed
  });

  it('the copy equals the source row for row, in every table', async () => {
    const source = new Database(sqliteGw.sqlitePath, { readonly: true });
    try {
      const count = (table: string, where = '1 = 1') => (source.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`).get() as { n: number }).n;
      // The source really holds what real issuance leaves behind.
      expect(count('certificates')).toBe(3);
      expect(count('certificates', "status = 'revoked'")).toBe(1);
      expect(count('orders', "status = 'invalid'")).toBe(1);
      expect(count('orders', "status = 'pending'")).toBe(1);
      expect(count('eab_keys', 'bound_account_id IS NOT NULL')).toBe(1);
      expect(count('eab_keys')).toBe(2);
      expect(count('issuance_attempts')).toBeGreaterThanOrEqual(3);
      expect(count('jobs')).toBeGreaterThan(3);
      expect(count('used_nonces')).toBeGreaterThan(10);
      expect(count('settings')).toBeGreaterThanOrEqual(1);
      for (const table of COPIED_TABLES) {
        const fromSqlite = normRows(source.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[]);
        const fromPg = normRows(await pgRows(`SELECT * FROM ${table}`), table === 'challenges' ? ['seq'] : []);
        expect(fromPg, table).toEqual(fromSqlite);
        expect(fromPg.length, table).toBe(count(table));
      }
      // The challenges keep the order they were offered in.
      const sqliteOrder = (source.prepare('SELECT id FROM challenges ORDER BY authz_id, created_at, rowid').all() as { id: string }[]).map((r) => r.id);
      const pgOrder = (await pgRows('SELECT id FROM challenges ORDER BY authz_id, seq')).map((r) => r.id as string);
      expect(pgOrder).toEqual(sqliteOrder);
    } finally {
      source.close();
    }
  });

  it('refuses a target that has rows, changing nothing; --force replaces its contents', async () => {
    const before = await pgRows('SELECT COUNT(*)::int AS n FROM orders');
    const refused = await copy();
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/not empty .*nothing copied; --force/);
    expect(await pgRows('SELECT COUNT(*)::int AS n FROM orders')).toEqual(before);
    const forced = await copy('--force');
    expect(forced.code).toBe(0);
    expect(await pgRows('SELECT COUNT(*)::int AS n FROM orders')).toEqual(before);
  });

  it('a gateway on the copy serves as the SQLite one did: nonces, certificates, accounts, new orders listed last', async () => {
    const pgGw = await startTestGateway({ store: 'postgres', database: target, dir: sqliteGw.dir });
    try {
      const c = new AcmeTestClient(pgGw, client.key);
      c.kid = client.kid;
      // The nonce HMAC key and the used nonces came along.
      expect((await c.postAsGet(before.orderUrl, { nonce: before.unusedNonce })).status).toBe(200);
      expect((await c.postAsGet(before.orderUrl, { nonce: before.usedNonce })).body.type).toBe('urn:ietf:params:acme:error:badNonce');
      expect((await c.download(before.certUrl)).text).toBe(before.chain);
      const account = await c.postAsGet(c.kid!);
      expect(account.body.status).toBe('valid');
      const created = await c.newOrder(['after-copy.example.com']);
      expect(created.status).toBe(201);
      const list = await c.postAsGet(account.body.orders);
      expect(list.body.orders.at(-1)).toBe(created.location);
      expect(list.body.orders).toHaveLength(6);
    } finally {
      await pgGw.close();
    }
  });

  it('says what it needs', async () => {
    const err = sink();
    expect(await dbCommand(['copy', '--from', 'nope.sqlite', '--to', target.url], sink().stream, err.stream)).toBe(2);
    expect(err.text()).toMatch(/--from sqlite:FILE/);
    const missing = sink();
    expect(await dbCommand(['copy', '--from', 'sqlite:/nonexistent/x.sqlite', '--to', target.url], sink().stream, missing.stream)).toBe(1);
    expect(missing.text()).toMatch(/no SQLite database/);
  });
});
