import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeProblem } from '../../src/acme/problems.js';
import { accountsCommand, auditCommand, ordersCommand } from '../../src/cli/admin-commands.js';
import { UsageError, type Io } from '../../src/cli/admin-context.js';
import { certsCommand } from '../../src/cli/certs.js';
import { dbCommand as dbCommandStreams } from '../../src/cli/db.js';
import { listen, type RunningListener } from '../../src/http/listener.js';
import { AcmeTestClient, startTestGateway, TEST_STORE, type TestGateway } from '../harness.js';

// The admin commands (issue 13) against a database populated by real issuance through the route
// harness: two certificates, an order refused by the PCA (badCSR), one whose challenge failed, a
// newOrder refused by policy; each command's table, --json, errors and exit codes. Runs on SQLite and,
// in the postgres project, on PostgreSQL (the commands open whatever the configuration names).

let t: TestGateway;
let owner: AcmeTestClient;
let other: AcmeTestClient;
let adminListener: RunningListener;
let configPath: string;
const ids = { web: '', api: '', pcaFailed: '', challengeFailed: '', badCsr: '' };

beforeAll(async () => {
  t = await startTestGateway();
  owner = await AcmeTestClient.withAccount(t);
  other = await AcmeTestClient.withAccount(t);
  ids.web = orderId((await owner.issue(['web.example.com'])).orderUrl);
  ids.api = orderId((await other.issue(['api.example.com', 'api2.example.com'])).orderUrl);
  // The PCA refuses the CSR: the order ends invalid with badCSR, after one sign call.
  t.gw.simulator!.faults.set({ errorRate: 1, errorStatus: 400, errorCode: 'INVALID_CSR', endpoints: ['sign'] });
  const refused = await owner.newOrder(['pca-refused.example.com']);
  ids.pcaFailed = orderId(refused.location!);
  await owner.completeAuthorizations(refused.body);
  const ready = await owner.poll(refused.location!, (b) => b.status === 'ready');
  await owner.finalize(ready.body.finalize, ['pca-refused.example.com']);
  await owner.poll(refused.location!, (b) => b.status === 'invalid', 10_000);
  t.gw.simulator!.faults.set({});
  // A challenge answered wrong.
  t.validators.fail(new AcmeProblem('incorrectResponse', 'the key authorization did not match'), { value: 'wrong.example.com' });
  const wrong = await owner.newOrder(['wrong.example.com']);
  ids.challengeFailed = orderId(wrong.location!);
  await owner.completeAuthorizations(wrong.body);
  // Refused at finalize: the CSR names another host (the order stays ready).
  const mismatch = await owner.newOrder(['csr.example.com']);
  ids.badCsr = orderId(mismatch.location!);
  await owner.completeAuthorizations(mismatch.body);
  const readyMismatch = await owner.poll(mismatch.location!, (b) => b.status === 'ready');
  expect((await owner.finalize(readyMismatch.body.finalize, ['elsewhere.example.com'])).status).toBe(400);
  // Refused by policy at newOrder: an address the validator must never reach.
  expect((await owner.newOrder([{ type: 'ip', value: '169.254.169.254' }])).status).toBe(400);

  // The admin listener on a real socket, for `certs revoke` (which goes through the running gateway).
  adminListener = await listen(t.gw.admin.app as never, { host: '127.0.0.1', port: 0, tls: null });
  configPath = join(t.dir, 'gateway.yaml');
  const storage = t.database ? { postgres: t.database.url } : { sqlite: t.sqlitePath };
  writeFileSync(
    configPath,
    JSON.stringify({ storage, acme: { eabKekFile: join(t.dir, 'eab-kek.key') }, admin: { listen: `127.0.0.1:${adminListener.port}`, tokenFile: join(t.dir, 'admin.token') }, logging: { level: 'silent' } }),
  );
}, 60_000);
afterAll(async () => {
  await adminListener?.close();
  await t?.dispose();
});

const orderId = (url: string) => url.split('/').pop()!;
const dbCommand = (args: string[], io: Io) => dbCommandStreams(args, io.out, io.err);

function capture(): Io & { text: { out: string; err: string } } {
  const text = { out: '', err: '' };
  const stream = (key: 'out' | 'err') =>
    new Writable({
      write(chunk, _e, done) {
        text[key] += chunk.toString();
        done();
      },
    });
  return { out: stream('out'), err: stream('err'), text };
}

async function run(cmd: (args: string[], io: Io) => Promise<number>, ...args: string[]) {
  const io = capture();
  const code = await cmd([...args, '--config', configPath], io);
  return { code, ...io.text };
}

describe('certs', () => {
  it('certs list --json: serial, names, notAfter, status, account, order for each certificate', async () => {
    const r = await run(certsCommand, 'list', '--json');
    expect(r.code).toBe(0);
    const certs = JSON.parse(r.out) as Array<Record<string, unknown>>;
    expect(certs).toHaveLength(2);
    for (const c of certs) {
      expect(c).toMatchObject({ serial: expect.stringMatching(/^[0-9a-f]+$/), names: expect.any(Array), notAfter: expect.any(String), status: 'valid', account: expect.any(String), order: expect.any(String) });
    }
    expect(certs.map((c) => c.order).sort()).toEqual([ids.web, ids.api].sort());
    expect(certs.find((c) => c.order === ids.api)!.names).toEqual(['api.example.com', 'api2.example.com']);
  });

  it('filters by name and account; --expiring-within takes a duration; a human table by default', async () => {
    const byName = JSON.parse((await run(certsCommand, 'list', '--json', '--name', 'API2.example.com')).out);
    expect(byName.map((c: { order: string }) => c.order)).toEqual([ids.api]);
    const byAccount = JSON.parse((await run(certsCommand, 'list', '--json', '--account', owner.kid!.split('/').pop()!)).out);
    expect(byAccount.map((c: { order: string }) => c.order)).toEqual([ids.web]);
    expect(JSON.parse((await run(certsCommand, 'list', '--json', '--expiring-within', '30d')).out)).toEqual([]);
    expect(JSON.parse((await run(certsCommand, 'list', '--json', '--expiring-within', '100d')).out)).toHaveLength(2);
    const human = await run(certsCommand, 'list');
    expect(human.out.split('\n')[0]).toMatch(/^SERIAL\s+STATUS\s+NOT AFTER\s+DAYS\s+RENEWED\s+NAMES/);
    expect(human.out).toContain('web.example.com');
    await expect(run(certsCommand, 'list', '--expiring-within', 'soon')).rejects.toThrow(UsageError);
    await expect(run(certsCommand, 'list', '--bogus')).rejects.toThrow(UsageError);
  });

  it('certs show by serial (with or without colons) and revoke through the admin listener, audited as the token', async () => {
    const [web] = JSON.parse((await run(certsCommand, 'list', '--json', '--name', 'web.example.com')).out);
    const colons = web.serial.toUpperCase().match(/../g).join(':');
    const shown = await run(certsCommand, 'show', colons, '--json');
    expect(JSON.parse(shown.out)).toMatchObject({ serial: web.serial, status: 'valid', names: ['web.example.com'] });
    expect((await run(certsCommand, 'show', 'ffff')).code).toBe(1);
    const revoked = await run(certsCommand, 'revoke', web.serial, '--reason', '4');
    expect(revoked).toMatchObject({ code: 0, out: `revoked ${web.serial} (reason 4)\n` });
    expect(JSON.parse((await run(certsCommand, 'show', web.serial, '--json')).out)).toMatchObject({ status: 'revoked', revocationReason: 4 });
    const again = await run(certsCommand, 'revoke', web.serial);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already revoked/);
    const audit = JSON.parse((await run(auditCommand, 'list', '--json', '--action', 'certificate.revoked')).out);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'admin', actorName: 'admin', clientIp: expect.stringMatching(/127\.0\.0\.1/), serialHex: web.serial, detail: { reason: 4 } });
  });
});

describe('orders', () => {
  it('orders list: newest first, by status; the failures carry their problem', async () => {
    const all = JSON.parse((await run(ordersCommand, 'list', '--json')).out) as Array<{ id: string; status: string; problem: { type: string } | null }>;
    expect(all.map((o) => o.id)).toEqual([ids.badCsr, ids.challengeFailed, ids.pcaFailed, ids.api, ids.web]);
    const invalid = JSON.parse((await run(ordersCommand, 'list', '--json', '--status', 'invalid')).out) as typeof all;
    expect(invalid.map((o) => [o.id, o.problem?.type])).toEqual([
      [ids.challengeFailed, 'urn:ietf:params:acme:error:incorrectResponse'],
      [ids.pcaFailed, 'urn:ietf:params:acme:error:serverInternal'],
    ]);
    expect((await run(ordersCommand, 'list', '--name', 'web.example.com')).out).toContain(ids.web);
  });

  it('orders show --json: the timeline from creation through challenge and PCA call to the certificate', async () => {
    const o = JSON.parse((await run(ordersCommand, 'show', ids.web, '--json')).out);
    expect(o).toMatchObject({ id: ids.web, status: 'valid', names: ['web.example.com'] });
    const events = o.timeline.map((e: { event: string }) => e.event);
    expect(events).toEqual(['order.created', 'authorization.created', 'challenge.attempt', 'authorization.result', 'pca.sign', 'certificate.issued', 'certificate.revoked']);
    const sign = o.timeline.find((e: { event: string }) => e.event === 'pca.sign');
    expect(sign).toMatchObject({ outcome: 'issued', latencyMs: expect.any(Number) });
  });

  it('a failed order shows the PCA call that failed and its problem in plain words', async () => {
    const o = JSON.parse((await run(ordersCommand, 'show', ids.pcaFailed, '--json')).out);
    expect(o.status).toBe('invalid');
    expect(o.timeline.find((e: { event: string }) => e.event === 'pca.sign')).toMatchObject({ outcome: 'failed' });
    expect(o.timeline.at(-1)).toMatchObject({ event: 'order.failed', explanation: expect.stringMatching(/the Private CA .*INVALID_CSR/) });
    const human = await run(ordersCommand, 'show', ids.challengeFailed);
    expect(human.out).toMatch(/http-01 for wrong\.example\.com: invalid/);
    expect(human.out).toMatch(/why\s+The validation reached the client’s server but got the wrong answer/);
    expect((await run(ordersCommand, 'show', 'no-such-order')).code).toBe(1);
  });
});

describe('accounts and the audit trail', () => {
  it('accounts list and show with their counts; deactivate refuses the account\'s next request', async () => {
    const accounts = JSON.parse((await run(accountsCommand, 'list', '--json')).out) as Array<{ id: string; orders: number; certificates: number }>;
    const ownerId = owner.kid!.split('/').pop()!;
    expect(accounts.find((a) => a.id === ownerId)).toMatchObject({ orders: 4, certificates: 1 });
    const finalizeRefused = JSON.parse((await run(ordersCommand, 'show', ids.badCsr, '--json')).out);
    expect(finalizeRefused.timeline.at(-1)).toMatchObject({ event: 'finalize.refused', explanation: expect.stringMatching(/CSR was refused/) });
    expect(JSON.parse((await run(accountsCommand, 'show', ownerId, '--json')).out).recentOrders).toHaveLength(4);
    const otherId = other.kid!.split('/').pop()!;
    expect((await run(accountsCommand, 'deactivate', otherId)).code).toBe(0);
    expect((await other.newOrder(['after.example.com'])).status).toBe(401);
    const again = await run(accountsCommand, 'deactivate', otherId);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/deactivated, not valid/);
    expect((await run(accountsCommand, 'deactivate', 'nobody')).code).toBe(1);
  });

  it('audit list shows who did what; export is JSON lines, --since narrows it', async () => {
    const events = JSON.parse((await run(auditCommand, 'list', '--json')).out) as Array<{ action: string; actor: string }>;
    const actions = events.map((e) => e.action);
    for (const a of ['account.created', 'certificate.issued', 'order.failed', 'order.refused', 'finalize.refused', 'certificate.revoked', 'admin.account.deactivated']) {
      expect(actions, a).toContain(a);
    }
    expect(events.filter((e) => e.action === 'certificate.issued')).toHaveLength(2);
    expect(events.find((e) => e.action === 'admin.account.deactivated')!.actor).toBe('cli');
    const refused = events.find((e) => e.action === 'order.refused') as unknown as { detail: { problem: { type: string } }; accountId: string };
    expect(refused.detail.problem.type).toBe('urn:ietf:params:acme:error:rejectedIdentifier');
    const exported = (await run(auditCommand, 'export')).out.trim().split('\n').map((l) => JSON.parse(l));
    expect(exported.map((e) => e.action)).toEqual(actions);
    expect((await run(auditCommand, 'export', '--since', '2099-01-01')).out).toBe('');
    await expect(run(auditCommand, 'list', '--since', 'yesterday-ish')).rejects.toThrow(UsageError);
  });
});

describe('db', () => {
  it.skipIf(TEST_STORE === 'postgres')('db backup copies the live database with progress; db prune deletes in batches', async () => {
    const dest = join(t.dir, 'backup.sqlite');
    const b = await run(dbCommand, 'backup', dest);
    expect(b.code).toBe(0);
    expect(b.err).toMatch(/backup: 100% \(\d+\/\d+\)/);
    expect(statSync(dest).mode & 0o777).toBe(0o600);
    const copy = new Database(dest, { readonly: true });
    expect((copy.prepare('SELECT COUNT(*) AS n FROM certificates').get() as { n: number }).n).toBe(2);
    copy.close();
    const p = await run(dbCommand, 'prune', '--older-than', '0s', '--batch', '2');
    expect(p.code).toBe(0);
    expect(p.err).toMatch(/pruned \d+ finished jobs/);
    expect(p.out).toMatch(/^pruned: nonces \d+, jobs \d+\n$/);
  });

  it.skipIf(TEST_STORE === 'sqlite')('db backup on PostgreSQL says to use pg_dump', async () => {
    const b = await run(dbCommand, 'backup', join(t.dir, 'x'));
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/pg_dump/);
    expect(existsSync(join(t.dir, 'x'))).toBe(false);
  });
});

it('the admin token file was created 0600 at the first start', () => {
  const path = join(t.dir, 'admin.token');
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(readFileSync(path, 'utf8').trim()).toBe(t.gw.admin.token.token);
});

it('an id that starts with "-" (random base64url) is an id, not an option', async () => {
  const { idsAsPositionals } = await import('../../src/cli/admin-context.js');
  const options = { config: { type: 'string' as const, short: 'c' }, json: { type: 'boolean' as const } };
  expect(idsAsPositionals(['-5xAbc', '--json', '-c', 'f.yaml'], options)).toEqual(['--json', '-c', 'f.yaml', '--', '-5xAbc']);
  expect(idsAsPositionals(['--config=f', '--bogus', 'x'], options)).toEqual(['--config=f', '--bogus', '--', 'x']);
  expect((await run(ordersCommand, 'show', '-no-such-order')).code).toBe(1);
});
