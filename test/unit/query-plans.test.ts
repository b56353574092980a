import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/types.js';
import { AcmeTestClient, b64u, generateAccountKey, readResponse, startTestGateway, type TestGateway } from '../harness.js';

// Issue 11: every query the SQLite store runs is planned without a table scan, so request latency
// stays flat as the database grows (bench/fill-million.ts shows it at a million certificates). The
// queries are not listed here: the store is opened with a hook on its statement cache and the real
// gateway runs a complete issuance and everything around it through it (account, orders list, ARI,
// renewal with `replaces`, revocation, key change, deactivation, start-up recovery, the PCA audit,
// housekeeping; the rate limits and the audit trail they write), so a query added to the store is checked the first time a route test path runs it.

let dir: string;
let t: TestGateway;
let store: Store;
const statements = new Set<string>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'query-plans-'));
  store = openSqliteStore({ path: join(dir, 'plans.sqlite'), onStatement: (sql) => statements.add(sql) });
  // A directory whose limits are all 1, so the second request of each kind is refused: the reads a
  // full window takes (when does it free up?) are planned too.
  const tight = { newOrdersPerAccount: 1, newAccountsPerIp: 1, failedValidationsPerIdentifier: 1, pendingOrdersPerAccount: 1, concurrentValidationsPerAccount: 1 };
  t = await startTestGateway({ dir, store: 'sqlite', config: { directories: { tight: { rateLimits: tight } } }, overrides: { store } });

  // From an address, so that newAccountsPerIp counts it (the rate limits are on, at their defaults).
  const c = await AcmeTestClient.create(t);
  c.from = '192.0.2.10';
  expect((await c.newAccount()).status).toBe(201);
  await c.post(c.kid!, { contact: ['mailto:plans@example.com'] });
  const { certUrl } = await c.issue(['plans.example.com']);
  const chain = (await c.download(certUrl)).text;
  const leafPem = chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25);
  await c.postAsGet(`${c.kid!}/orders`);

  // ARI, then a renewal that names the certificate it replaces (RFC 9773).
  const leaf = new x509.X509Certificate(leafPem);
  const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension)!;
  const certId = `${Buffer.from(aki.keyId!, 'hex').toString('base64url')}.${Buffer.from(leaf.serialNumber, 'hex').toString('base64url')}`;
  expect((await readResponse(await t.request(`/renewal-info/${certId}`))).status).toBe(200);
  expect((await c.newOrder(['plans.example.com'], { replaces: certId })).status).toBe(201);

  // Deactivation cascades to the order; revocation by the account.
  const other = await c.newOrder(['deactivate.plans.example.com']);
  expect((await c.post(other.body.authorizations[0], { status: 'deactivated' })).status).toBe(200);
  expect((await c.post(t.url('revokeCert'), { certificate: b64u(new X509Certificate(leafPem).raw), reason: 0 })).status).toBe(200);

  // Key change (RFC 8555 §7.3.5).
  const newKey = await generateAccountKey('ES256');
  const inner = await c.sign(t.url('keyChange'), { account: c.kid, oldKey: c.key.publicJwk }, { jwk: true, key: newKey, header: { nonce: undefined } });
  expect((await c.post(t.url('keyChange'), inner)).status).toBe(200);

  // Each limit full in the tight directory: 429 rateLimited, after the reads that say until when.
  const limited = await AcmeTestClient.create(t, 'ES256', 'tight');
  limited.from = '192.0.2.20';
  expect((await limited.newAccount()).status).toBe(201);
  const second = await AcmeTestClient.create(t, 'ES256', 'tight');
  second.from = '192.0.2.20';
  expect((await second.newAccount()).status).toBe(429);
  const pending = await limited.newOrder(['tight.plans.example.com']);
  expect(pending.status).toBe(201);
  expect((await limited.newOrder(['tight2.plans.example.com'])).status).toBe(429);

  // What runs in the background: the PCA audit and housekeeping (start-up recovery ran at build).
  await t.gw.audit.run();
  await store.nonces.prune(Date.now());
  await store.rateLimits.prune(Date.now());
  await store.jobs.pruneFinished(Date.now());
  await store.jobs.countActive();
}, 60_000);

afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** SQLite's plan of `sql`, one line per step ("SEARCH orders USING INDEX …", "SCAN jobs", …). */
function planOf(db: Database.Database, sql: string): string[] {
  const params = (sql.match(/\?/g) ?? []).map(() => null);
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
}

/**
 * A full pass over a table: "SCAN t" (with or without an index: a covering index scan still reads
 * every row), and "SEARCH t" without an index, which is how SQLite shows MIN()/MAX() read off a table.
 */
// `SCAN json_each VIRTUAL TABLE` walks the statement's own bound list (a batch of serials passed as
// JSON), not a table of the database: its cost is the caller's batch, whatever the database's size.
const isTableScan = (detail: string): boolean => /^SCAN (?!CONSTANT ROW|json_each VIRTUAL TABLE)/.test(detail) || /^SEARCH \S+$/.test(detail);

/**
 * Allowed to read a whole table, and why. Keep this short: every entry is a statement that does
 * not run per request.
 */
const ALLOWED_SCANS: Record<string, string> = {
  // The PCA audit's first run ever, before it has saved a watermark: once per database.
  'SELECT MIN(started_at) AS t FROM issuance_attempts': 'the PCA audit, once, before its first watermark',
};

/**
 * Bound parameters SQLite reads while it plans a statement. Such a statement is prepared again on
 * every new binding, as after a schema change (vdbeUnbind sets `expired` for a parameter in the
 * statement's `expmask`): 2–20 µs each time instead of ~1 µs. SQLite 3.51 marks (sqlite3.c,
 * better-sqlite3's build): `LIMIT ?` (sqlite3ExprIsInteger with a Parse, for the LIMIT optimisation),
 * `LIKE ?` (isLikeOrGlob), and `col = ?` where a partial index's WHERE compares `col` to a literal
 * (exprCompareVariable, deciding whether the index can be used). `OFFSET ?` and `col IN (?, ?)` are
 * not marked. Nothing here is planned with STAT4 data (no ANALYZE is run), the fourth case.
 */
function replannedOnEveryBinding(sql: string, partialIndexColumns: ReadonlyMap<string, readonly string[]>): string[] {
  const flat = sql.replace(/\s+/g, ' ');
  const found: string[] = [];
  if (/\bLIMIT \?/i.test(flat)) found.push('LIMIT ?');
  if (/\bLIKE \?/i.test(flat)) found.push('LIKE ?');
  // Comparisons are after WHERE (an UPDATE's `SET status = ?` is not one).
  const conditions = flat.slice(Math.max(0, flat.search(/\bWHERE\b/i)));
  for (const [table, columns] of partialIndexColumns) {
    if (!new RegExp(`\\b${table}\\b`, 'i').test(flat)) continue;
    for (const column of columns) {
      if (new RegExp(`\\b(\\w+\\.)?${column}\\s*(==?|IN\\s*\\(\\s*\\?\\s*\\))\\s*\\?`, 'i').test(conditions) || new RegExp(`\\b(\\w+\\.)?${column}\\s+IN\\s*\\(\\s*\\?\\s*\\)`, 'i').test(conditions)) {
        found.push(`${table}.${column} compared to a bound parameter (partial index on it)`);
      }
    }
  }
  return found;
}

describe('query plans of the SQLite store', () => {
  it('the issuance and everything around it ran a good share of the store (the hook saw them)', () => {
    const sql = [...statements].join('\n');
    // rate_limit_events: the limits newAccount, newOrder and a challenge POST check (issue 9);
    // audit_events: what account creation, issuance and revocation append (issue 13).
    const tables = ['accounts', 'orders', 'authorizations', 'challenges', 'certificates', 'issuance_attempts', 'jobs', 'used_nonces', 'settings', 'rate_limit_events', 'audit_events'];
    for (const table of tables) {
      expect(sql, table).toContain(table);
    }
    expect(statements.size).toBeGreaterThan(40);
  });

  it('no statement scans a table', () => {
    const db = new Database(join(dir, 'plans.sqlite'), { readonly: true });
    try {
      const scans = [...statements].filter((sql) => !(sql in ALLOWED_SCANS)).flatMap((sql) => {
        const plan = planOf(db, sql);
        return plan.some(isTableScan) ? [`${sql.replace(/\s+/g, ' ')}\n    ${plan.join('\n    ')}`] : [];
      });
      expect(scans).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('no statement is planned again on every call (no bound parameter the planner reads)', () => {
    const db = new Database(join(dir, 'plans.sqlite'), { readonly: true });
    try {
      // Each partial index's table and the columns its WHERE names: `WHERE status = 'pending'`.
      const partialIndexColumns = new Map<string, string[]>();
      for (const { tbl_name: table, sql } of db.prepare("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'").all() as Array<{ tbl_name: string; sql: string }>) {
        const columns = [...sql.slice(sql.search(/\bWHERE\b/i)).matchAll(/\b(\w+)\s*(?:=|IN\b)/gi)].map((m) => m[1]!).filter((c) => !/^(WHERE|AND|OR|NOT)$/i.test(c));
        partialIndexColumns.set(table, [...new Set([...(partialIndexColumns.get(table) ?? []), ...columns])]);
      }
      expect([...partialIndexColumns.keys()].sort()).toEqual(['challenges', 'orders']);
      const replanned = [...statements].flatMap((sql) => replannedOnEveryBinding(sql, partialIndexColumns).map((why) => `${why}: ${sql.replace(/\s+/g, ' ')}`));
      expect(replanned).toEqual([]);
    } finally {
      db.close();
    }
  });
});
