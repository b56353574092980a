import 'reflect-metadata'; // first: @peculiar/x509 (through tsyringe) needs it before it loads
import { randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { makeCsr } from '../src/pca/make-csr.js';
import { ensureX509Crypto, x509 } from '../src/pca/x509-setup.js';
import { timeOrderedId, type Random } from '../src/platform/random.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';

// `node dist/bench/fill-million.js [--db FILE] [--certs N] [--accounts N] [--batch N] [--ids time|random]`: a SQLite
// database of the gateway holding N issued certificates (default 1,000,000) with everything an
// issuance leaves behind: its account, order, authorization and link, three challenges, the
// issuance attempt, the validation and issuance jobs (finished), a used nonce and its audit event
// (certificate.issued; account.created per account) per certificate.
// bench/scale.ts and bench/profile-vs-pebble.sh (DB=...) then run the gateway on it.
//
// Why it is still representative though it is written in big transactions through prepared
// statements rather than one intent at a time through the store:
// - the schema, indexes and migrations are the store's own (the store opens the file first);
// - every row has the shape and size the store writes: ids made as the gateway makes them, with the
//   row's creation time (`--ids random`: the random ids of builds before time-ordered ids, so every
//   primary-key and id index is filled in random order, as such a build's production file is), the real PEM sizes of an issued leaf and
//   its two-CA chain, a real CSR DER, JSON columns as the store writes them, times spread over the
//   last 90 days in increasing order (as the time-ordered indexes grow in production);
// - only the write path differs: one transaction per batch instead of one per intent. That changes
//   how often the WAL is checkpointed while filling, not the pages the B-trees end up in, so reads and
//   writes on the finished file cost what they would on a database grown one order at a time.
// What it leaves out: rate-limit events (pruned once out of their window, at most an hour's worth),
// rows of failed orders (there are fewer of them than of valid ones, in the
// same tables and indexes) and EAB keys. The jobs of every certificate are kept, as if all were
// issued within the week that housekeeping keeps finished jobs for: the worst case for that table.

interface Args {
  db: string;
  certs: number;
  accounts: number;
  batch: number;
  ids: 'time' | 'random';
}

function parseArgs(argv: string[]): Args {
  const a: Args = { db: 'bench/results/million.sqlite', certs: 1_000_000, accounts: 10_000, batch: 10_000, ids: 'time' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[++i];
    if (flag === '--db' && value) a.db = value;
    else if ((flag === '--certs' || flag === '--accounts' || flag === '--batch') && value && /^\d+$/.test(value)) a[flag.slice(2) as 'certs' | 'accounts' | 'batch'] = Number(value);
    else if (flag === '--ids' && (value === 'time' || value === 'random')) a.ids = value;
    else throw new Error(`unknown or incomplete flag ${flag}; usage: node dist/bench/fill-million.js [--db FILE] [--certs N] [--accounts N] [--batch N] [--ids time|random]`);
  }
  return a;
}

/** A real leaf and two-CA chain, and a real CSR, whose sizes every filler row copies. */
async function templates(): Promise<{ leafPem: string; fullchainPem: string; csrDer: Buffer; jwkJson: string }> {
  ensureX509Crypto();
  const alg = { name: 'ECDSA', namedCurve: 'P-256' } as const;
  const sign = { name: 'ECDSA', hash: 'SHA-256' } as const;
  const keys = async () => (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const [rootKeys, caKeys] = [await keys(), await keys()];
  const validity = { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 365 * 86_400_000), signingAlgorithm: sign };
  const root = await x509.X509CertificateGenerator.createSelfSigned({ ...validity, serialNumber: '01', name: 'CN=Filler Root CA,O=acme-pca-gateway bench', keys: rootKeys, extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] });
  const ca = await x509.X509CertificateGenerator.create({ ...validity, serialNumber: '02', subject: 'CN=Filler Issuing CA,O=acme-pca-gateway bench', issuer: root.subject, publicKey: caKeys.publicKey, signingKey: rootKeys.privateKey, extensions: [new x509.BasicConstraintsExtension(true, 0, true), await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey), await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey)] });
  const csr = await makeCsr(['svc-000000.fill.example']);
  const leaf = await x509.X509CertificateGenerator.create({
    ...validity,
    serialNumber: '7f'.padEnd(32, '1'),
    subject: 'CN=svc-000000.fill.example',
    issuer: ca.subject,
    publicKey: csr.keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'svc-000000.fill.example' }]), await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey), new x509.BasicConstraintsExtension(false)],
  });
  const jwk = await webcrypto.subtle.exportKey('jwk', (await keys()).publicKey);
  return {
    leafPem: `${leaf.toString('pem')}\n`,
    fullchainPem: [leaf, ca, root].map((c) => `${c.toString('pem')}\n`).join(''),
    csrDer: Buffer.from(csr.csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'),
    jwkJson: JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }),
  };
}

/**
 * Ids as the gateway makes them, drawn from one bulk pool of randomness: row ids time-ordered
 * (platform/random.ts timeOrderedId) or, with `--ids random`, the 12 random bytes of base64url that
 * builds before issue 11's time-ordered ids made (to measure the difference); audit event ids as
 * services/ops-events.ts makes them (time first); tokens, serials and nonces random.
 */
class Ids {
  private pool = Buffer.alloc(0);
  private at = 0;
  private readonly random: Random = { bytes: (n) => Buffer.from(this.next(n), 'base64url') };
  constructor(private readonly mode: 'time' | 'random') {}
  /** The id of a row created at atMs. */
  row(atMs: number): string {
    return this.mode === 'time' ? timeOrderedId(this.random, atMs) : this.next();
  }
  audit(atMs: number): string {
    return `${atMs.toString(36).padStart(9, '0')}000${this.next()}`;
  }
  next(bytes = 12): string {
    if (this.at + bytes > this.pool.length) {
      this.pool = randomBytes(1 << 20);
      this.at = 0;
    }
    const id = this.pool.subarray(this.at, this.at + bytes).toString('base64url');
    this.at += bytes;
    return id;
  }
  hex(bytes: number): string {
    return Buffer.from(this.next(bytes), 'base64url').toString('hex');
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const path = resolve(args.db);
  mkdirSync(dirname(path), { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) rmSync(path + suffix);
  // The store creates the file and applies every migration: the schema is exactly the gateway's.
  await openSqliteStore({ path }).close();

  const t = await templates();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // Filling only: a crash here loses the filler, nothing else. The gateway opens it with its own settings.
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144'); // 256 MiB while filling

  const ins = {
    account: db.prepare(`INSERT INTO accounts (id, directory, jwk_thumbprint, jwk_json, status, contact_json, tos_agreed, eab_key_id, created_at, updated_at)
      VALUES (?, 'default', ?, ?, 'valid', '[]', 1, NULL, ?, ?)`),
    order: db.prepare(`INSERT INTO orders (id, directory, account_id, status, identifiers_json, not_before, not_after, profile, replaces, replaces_certificate_id,
      eab_key_id, expires_at, csr_der, error_json, certificate_id, created_at, updated_at, seq, csr_spki_sha256)
      VALUES (?, 'default', ?, 'valid', ?, NULL, NULL, NULL, NULL, NULL, NULL, ?, ?, NULL, ?, ?, ?, ?, ?)`),
    authz: db.prepare(`INSERT INTO authorizations (id, directory, account_id, identifier_type, identifier_value, wildcard, status, expires_at, created_at, updated_at)
      VALUES (?, 'default', ?, 'dns', ?, 0, 'valid', ?, ?, ?)`),
    link: db.prepare('INSERT INTO order_authorizations (order_id, authz_id, position) VALUES (?, ?, 0)'),
    challenge: db.prepare(`INSERT INTO challenges (id, authz_id, type, token, status, validated_at, error_json, record_json, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`),
    cert: db.prepare(`INSERT INTO certificates (id, directory, order_id, account_id, serial_hex, pca_serial, leaf_pem, fullchain_pem, spki_sha256, aki_b64,
      not_before, not_after, status, created_at) VALUES (?, 'default', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'valid', ?)`),
    attempt: db.prepare(`INSERT INTO issuance_attempts (id, order_id, spki_sha256, started_at, finished_at, outcome, pca_serial, error)
      VALUES (?, ?, ?, ?, ?, 'issued', ?, NULL)`),
    job: db.prepare(`INSERT INTO jobs (id, kind, subject_id, state, attempts, run_at, deadline_at, lease_owner, lease_until, last_error, created_at, updated_at)
      VALUES (?, ?, ?, 'done', 1, ?, ?, NULL, NULL, NULL, ?, ?)`),
    nonce: db.prepare('INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?)'),
    // The audit trail (issue 13) is never pruned: one certificate.issued per certificate, one
    // account.created per account, as services/ops-events.ts writes them.
    audit: db.prepare(`INSERT INTO audit_events (id, at, actor, actor_name, client_ip, eab_key_id, action, directory, account_id, order_id, certificate_id, serial_hex, detail_json)
      VALUES (?, ?, ?, NULL, ?, NULL, ?, 'default', ?, ?, ?, ?, ?)`),
  };

  const ids = new Ids(args.ids);
  const now = Date.now();
  const DAY = 86_400_000;
  const span = 90 * DAY;
  const started = performance.now();
  const accounts: string[] = [];
  db.transaction(() => {
    for (let i = 0; i < args.accounts; i++) {
      const createdAt = now - span - DAY + i;
      const id = ids.row(createdAt);
      ins.account.run(id, ids.next(32), t.jwkJson, createdAt, createdAt);
      ins.audit.run(ids.audit(createdAt), createdAt, 'account', '10.0.0.1', 'account.created', id, null, null, null, '{}');
      accounts.push(id);
    }
  })();

  const aki = ids.next(20);
  for (let done = 0; done < args.certs; ) {
    const n = Math.min(args.batch, args.certs - done);
    db.transaction(() => {
      for (let k = 0; k < n; k++) {
        const i = done + k;
        const at = now - span + Math.floor((i * span) / args.certs);
        const accountId = accounts[i % accounts.length]!;
        const name = `svc-${i.toString().padStart(7, '0')}.fill.example`;
        const [orderId, authzId, certId, attemptId] = [ids.row(at), ids.row(at), ids.row(at + 40), ids.row(at + 20)];
        const serialHex = `7${ids.hex(15)}`;
        const spki = ids.hex(32);
        ins.order.run(orderId, accountId, JSON.stringify([{ type: 'dns', value: name }]), at + 7 * DAY, t.csrDer, certId, at, at + 40, i + 1, spki);
        ins.authz.run(authzId, accountId, name, at + 7 * DAY, at, at + 10);
        ins.link.run(orderId, authzId);
        const record = JSON.stringify({ hostname: name, port: 80, addressUsed: '10.0.0.1' });
        const http01 = ids.row(at);
        ins.challenge.run(http01, authzId, 'http-01', ids.next(32), 'valid', at + 10, record, at, at + 10);
        ins.challenge.run(ids.row(at), authzId, 'dns-01', ids.next(32), 'pending', null, null, at, at);
        ins.challenge.run(ids.row(at), authzId, 'tls-alpn-01', ids.next(32), 'pending', null, null, at, at);
        const pcaSerial = serialHex.match(/../g)!.join(':');
        ins.cert.run(certId, orderId, accountId, serialHex, pcaSerial, t.leafPem, t.fullchainPem, spki, aki, at, at + span, at + 40);
        ins.attempt.run(attemptId, orderId, spki, at + 20, at + 40, pcaSerial);
        ins.audit.run(ids.audit(at + 40), at + 40, 'system', null, 'certificate.issued', accountId, orderId, certId, serialHex, JSON.stringify({ names: [name], notAfter: new Date(at + span).toISOString() }));
        ins.job.run(ids.row(at), 'validate', http01, at, at + 300_000, at, at + 10);
        ins.job.run(ids.row(at + 15), 'issue', orderId, at + 15, at + 600_000, at + 15, at + 40);
        // Used nonces of the last hour (what the table holds at any time), at the same count.
        ins.nonce.run(ids.next(32), now + 3_600_000 - (args.certs - i));
      }
    })();
    done += n;
    if (done % (10 * args.batch) === 0 || done === args.certs) {
      process.stdout.write(`${done} certificates, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    }
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`filled ${path}: ${args.certs} certificates, ${args.accounts} accounts in ${seconds.toFixed(0)} s (${Math.round(args.certs / seconds)} certificates/s)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`fill-million: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
