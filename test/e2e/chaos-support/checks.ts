import http from 'node:http';
import { createHash, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';

// What the chaos / crash / reconcile tests check after the fact: the downloaded chains, and the
// gateway's own records read straight from its SQLite file (read-only, after the gateway stopped).

/** http-01 responder on 127.0.0.1: GET /.well-known/acme-challenge/<token> → key authorization. */
export interface Http01Server {
  port: number;
  set(token: string, keyAuthorization: string): void;
  close(): Promise<void>;
}

export function startHttp01Server(): Promise<Http01Server> {
  const tokens = new Map<string, string>();
  const prefix = '/.well-known/acme-challenge/';
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    const value = url.startsWith(prefix) ? tokens.get(url.slice(prefix.length)) : undefined;
    if (value === undefined) res.writeHead(404).end('not found');
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(value);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        set: (t, k) => void tokens.set(t, k),
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

export function splitPemCerts(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export function spkiSha256(cert: X509Certificate): string {
  return createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Colon-separated upper-case hex, as the PCA reports serials (ncp-pca-api §4.5). */
export function colonSerial(cert: X509Certificate): string {
  const hex = cert.serialNumber.toUpperCase();
  const even = hex.length % 2 ? `0${hex}` : hex;
  return even.match(/../g)!.join(':');
}

/**
 * Checks a downloaded PEM chain: the leaf carries `expectSpki`, each certificate is signed by the
 * next, and the last one is signed by `rootPem`. Returns null when fine, else the reason.
 */
export function chainProblem(chainPem: string, expectSpki: string, rootPem: string): string | null {
  const pems = splitPemCerts(chainPem);
  if (pems.length < 2) return `chain has ${pems.length} certificate(s)`;
  const certs = pems.map((p) => new X509Certificate(p));
  const root = new X509Certificate(rootPem);
  if (spkiSha256(certs[0]!) !== expectSpki) return 'leaf key is not the CSR key';
  for (let i = 0; i < certs.length; i++) {
    const child = certs[i]!;
    const parent = certs[i + 1] ?? root;
    if (child.fingerprint256 === root.fingerprint256) break;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) return `certificate ${i} is not signed by the next one`;
    if (parent === root) break;
  }
  const last = certs[certs.length - 1]!;
  if (last.fingerprint256 !== root.fingerprint256 && !last.verify(root.publicKey)) return 'chain does not end at the simulator root';
  const now = Date.now();
  if (new Date(certs[0]!.validFrom).getTime() > now + 120_000 || new Date(certs[0]!.validTo).getTime() < now) return 'leaf not valid now';
  return null;
}

export interface DbOrder {
  id: string;
  status: string;
  error: { type?: string; detail?: string } | null;
  certificateId: string | null;
  csrSpki: string | null;
}

export interface DbCertificate {
  id: string;
  orderId: string | null;
  serialHex: string;
  pcaSerial: string;
  spkiSha256: string;
  leafPem: string;
}

export interface DbAttempt {
  id: string;
  orderId: string;
  outcome: string;
  pcaSerial: string | null;
  error: string | null;
}

export interface DbJob {
  id: string;
  kind: string;
  subjectId: string;
  state: string;
  attempts: number;
  lastError: string | null;
}

export interface GatewayDbSnapshot {
  orders: DbOrder[];
  certificates: DbCertificate[];
  attempts: DbAttempt[];
  jobs: DbJob[];
  /** Challenges still processing (a validation that never ended). */
  processingChallenges: string[];
}

/** Reads the gateway's tables read-only (the gateway must be stopped, or at least idle). */
export function readGatewayDb(sqlitePath: string): GatewayDbSnapshot {
  const db = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  try {
    const orders = db.prepare('SELECT id, status, error_json, certificate_id, csr_der FROM orders').all() as Record<string, unknown>[];
    const certs = db.prepare('SELECT id, order_id, serial_hex, pca_serial, spki_sha256, leaf_pem FROM certificates').all() as Record<string, unknown>[];
    const attempts = db.prepare('SELECT id, order_id, outcome, pca_serial, error FROM issuance_attempts').all() as Record<string, unknown>[];
    const jobs = db.prepare('SELECT id, kind, subject_id, state, attempts, last_error FROM jobs').all() as Record<string, unknown>[];
    const challenges = db.prepare("SELECT id FROM challenges WHERE status = 'processing'").all() as Record<string, unknown>[];
    return {
      orders: orders.map((r) => ({
        id: r.id as string,
        status: r.status as string,
        error: r.error_json ? (JSON.parse(r.error_json as string) as DbOrder['error']) : null,
        certificateId: (r.certificate_id as string | null) ?? null,
        csrSpki: r.csr_der ? csrSpki(r.csr_der as Buffer) : null,
      })),
      certificates: certs.map((r) => ({
        id: r.id as string,
        orderId: (r.order_id as string | null) ?? null,
        serialHex: r.serial_hex as string,
        pcaSerial: r.pca_serial as string,
        spkiSha256: r.spki_sha256 as string,
        leafPem: r.leaf_pem as string,
      })),
      attempts: attempts.map((r) => ({
        id: r.id as string,
        orderId: r.order_id as string,
        outcome: r.outcome as string,
        pcaSerial: (r.pca_serial as string | null) ?? null,
        error: (r.error as string | null) ?? null,
      })),
      jobs: jobs.map((r) => ({
        id: r.id as string,
        kind: r.kind as string,
        subjectId: r.subject_id as string,
        state: r.state as string,
        attempts: r.attempts as number,
        lastError: (r.last_error as string | null) ?? null,
      })),
      processingChallenges: challenges.map((r) => r.id as string),
    };
  } finally {
    db.close();
  }
}

/** SPKI SHA-256 of a PKCS#10 DER, by walking the outer DER (CertificationRequestInfo.subjectPKInfo). */
function csrSpki(der: Buffer): string {
  // CertificationRequest ::= SEQ { info SEQ { version INT, subject Name, spki SEQ, attrs [0] }, ... }
  const read = (buf: Buffer, at: number): { start: number; end: number; headerEnd: number } => {
    let len = buf[at + 1]!;
    let p = at + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
      p += n;
    }
    return { start: at, headerEnd: p, end: p + len };
  };
  const outer = read(der, 0);
  const info = read(der, outer.headerEnd);
  const version = read(der, info.headerEnd);
  const subject = read(der, version.end);
  const spki = read(der, subject.end);
  return createHash('sha256').update(der.subarray(spki.start, spki.end)).digest('hex');
}

/**
 * The central bookkeeping invariant of issue 4: every certificate the PCA issued is known to the
 * gateway, either attached to an order (orders.certificate_id) or recorded in the certificates table.
 * Returns the simulator serials the gateway does not know.
 */
export function unknownToGateway(issuedSerials: string[], db: GatewayDbSnapshot): string[] {
  const known = new Set(db.certificates.map((c) => c.pcaSerial.toUpperCase()));
  return issuedSerials.filter((s) => !known.has(s.toUpperCase()));
}
