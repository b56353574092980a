import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import * as x509 from '@peculiar/x509';
import { parse } from 'yaml';
import { acme, internalHttp, type Http01Responder, type RawAcmeResponse } from './acmeClient.js';
import { gatewayEntry, repoRoot } from './build.js';
import type { Gateway } from './gateway.js';
import type { Harness } from './harness.js';
import { httpRequest, type SimpleResponse } from './http.js';
import { splitPemCertificates } from './openssl.js';

// Helpers for the issue-3 protocol tests (protocol-*.test.ts): EAB keys minted through the admin CLI,
// ARI certIDs computed from real certificates, the simulator's CRL, raw signed requests through
// acme-client's HttpClient, and read-only looks into the gateway's SQLite file.

export type AcmeClient = InstanceType<typeof acme.Client>;

// ---------- EAB (RFC 8555 §7.3.4) ----------

export interface MintedEab {
  keyId: string;
  hmacKey: string;
}

/** `acme-pca-gateway eab create --label L --config <gateway config> --json`, as an operator would run it. */
export async function mintEabKey(harness: Harness, gateway: Gateway, label: string, extraArgs: string[] = []): Promise<MintedEab> {
  const r = await harness.runOk(process.execPath, [gatewayEntry(), 'eab', 'create', '--label', label, '--config', gateway.configPath, '--json', ...extraArgs], {
    cwd: repoRoot,
    timeoutMs: 30_000,
  });
  const parsed = JSON.parse(r.stdout.trim().split('\n').pop()!) as MintedEab;
  if (!parsed.keyId || !parsed.hmacKey) throw new Error(`eab create printed no key: ${r.stdout}`);
  return { keyId: parsed.keyId, hmacKey: parsed.hmacKey };
}

// ---------- ARI (RFC 9773 §4.1) ----------

export interface AriCertIds {
  /** base64url(AKI keyIdentifier) "." base64url(serial DER content bytes), as RFC 9773 specifies. */
  canonical: string;
  /** The same with the serial's DER sign byte dropped or added (the other spelling clients send). */
  alternate: string;
  serialHex: string;
}

/** Computes the ARI certID of the first certificate in `pem` from its own AKI and serial. */
export function ariCertIds(pem: string): AriCertIds {
  const leaf = new x509.X509Certificate(splitPemCertificates(pem)[0]!);
  const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) throw new Error('the leaf has no Authority Key Identifier keyIdentifier (RFC 9773 needs it)');
  const akiB64 = Buffer.from(aki.keyId, 'hex').toString('base64url');
  // DER INTEGER content bytes: positive, so a leading 00 when the top bit is set.
  let hex = leaf.serialNumber.toLowerCase();
  if (hex.length % 2) hex = `0${hex}`;
  const der = Buffer.from(hex, 'hex');
  const canonicalSerial = der[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), der]) : der;
  const alternateSerial = canonicalSerial[0] === 0 && canonicalSerial.length > 1 ? canonicalSerial.subarray(1) : Buffer.concat([Buffer.from([0]), canonicalSerial]);
  return {
    canonical: `${akiB64}.${canonicalSerial.toString('base64url')}`,
    alternate: `${akiB64}.${alternateSerial.toString('base64url')}`,
    serialHex: der.toString('hex').replace(/^(00)+(?=.)/, ''),
  };
}

export async function directoryJson(gateway: Gateway): Promise<Record<string, unknown>> {
  const res = await httpRequest(gateway.directoryUrl, { caPem: gateway.rootPem() });
  if (res.status !== 200) throw new Error(`directory -> ${res.status}`);
  return JSON.parse(res.body) as Record<string, unknown>;
}

/** Unauthenticated GET <renewalInfo>/<certID>. */
export async function getRenewalInfo(gateway: Gateway, certId: string): Promise<SimpleResponse> {
  const dir = await directoryJson(gateway);
  return httpRequest(`${String(dir.renewalInfo)}/${certId}`, { caPem: gateway.rootPem() });
}

// ---------- the PCA simulator's CRL ----------

/** `GET <simulator>/ext/<caTag>/crl` (unauthenticated, DER), parsed; serials in lower-case hex without leading zeros. */
export async function simulatorCrlSerials(gateway: Gateway): Promise<string[]> {
  const config = parse(fs.readFileSync(gateway.configPath, 'utf8')) as { simulator: { listen: string; dataDir: string } };
  const caTag = fs.readFileSync(path.join(config.simulator.dataDir, 'ca-tag'), 'utf8').trim();
  const der = await httpGetBuffer(`http://${config.simulator.listen}/ext/${encodeURIComponent(caTag)}/crl`);
  const crl = new x509.X509Crl(der);
  return crl.entries.map((e) => normalizeHex(e.serialNumber));
}

export const normalizeHex = (hex: string): string => hex.toLowerCase().replace(/:/g, '').replace(/^(00)+(?=.)/, '');

async function httpGetBuffer(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url} -> ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

// ---------- acme-client helpers ----------

export async function newAcmeClient(gateway: Gateway, accountKey?: Buffer, opts: { eab?: MintedEab } = {}): Promise<{ client: AcmeClient; accountKey: Buffer }> {
  const key = accountKey ?? (await acme.crypto.createPrivateEcdsaKey('P-256'));
  const client = new acme.Client({
    directoryUrl: gateway.directoryUrl,
    accountKey: key,
    backoffMin: 250,
    backoffMax: 2_000,
    ...(opts.eab ? { externalAccountBinding: { kid: opts.eab.keyId, hmacKey: opts.eab.hmacKey } } : {}),
  });
  return { client, accountKey: key };
}

/** A raw signed POST (kid of the client's account unless `jwk` is set), returning status/headers/body. */
export async function signedPost(client: AcmeClient, url: string, payload: unknown, opts: { jwk?: boolean } = {}): Promise<RawAcmeResponse> {
  const http = internalHttp(client);
  return http.signedRequest(url, payload, { kid: opts.jwk ? null : client.getAccountUrl() });
}

export async function resourceUrl(client: AcmeClient, name: string): Promise<string> {
  return internalHttp(client).getResourceUrl(name);
}

export interface IssuedByAcmeClient {
  certificatePem: string;
  keyPem: string;
  orderUrl: string;
}

/**
 * newOrder (any identifiers / extra members) → http-01 on `responder` → finalize with a CSR for
 * `csrNames` → download. Step by step so the order can carry `replaces`, `profile`, `ip` identifiers.
 */
export async function issueHttp01(
  client: AcmeClient,
  responder: Http01Responder,
  order: { identifiers: { type: string; value: string }[]; [k: string]: unknown },
  opts: { csrNames?: string[]; keyPem?: Buffer } = {},
): Promise<IssuedByAcmeClient> {
  const created = await client.createOrder(order as never);
  const authzs = await client.getAuthorizations(created);
  for (const authz of authzs) {
    if (authz.status === 'valid') continue;
    const challenge = authz.challenges.find((c) => c.type === 'http-01');
    if (!challenge) throw new Error(`no http-01 challenge for ${authz.identifier.value}`);
    const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
    responder.set(challenge.token, keyAuthorization);
    await client.completeChallenge(challenge);
    await client.waitForValidStatus(challenge);
  }
  const names = opts.csrNames ?? order.identifiers.map((i) => i.value);
  const [keyPem, csr] = await acme.crypto.createCsr({ altNames: [...names] }, opts.keyPem ?? (await acme.crypto.createPrivateEcdsaKey('P-256')));
  const finalized = await client.finalizeOrder(created, csr);
  const valid = finalized.status === 'valid' ? finalized : await client.waitForValidStatus(finalized);
  const certificatePem = await client.getCertificate(valid);
  return { certificatePem, keyPem: keyPem.toString(), orderUrl: (created as { url: string }).url };
}

// ---------- the gateway's own records (read-only) ----------

/** Challenge types that are `valid` for an identifier value, read from the gateway's SQLite file. */
export function validChallengeTypes(gateway: Gateway, identifierValue: string): string[] {
  const db = new Database(path.join(gateway.dataDir, 'gateway.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT DISTINCT c.type AS type FROM challenges c JOIN authorizations a ON a.id = c.authz_id
         WHERE a.identifier_value = ? AND c.status = 'valid' ORDER BY c.type`,
      )
      .all(identifierValue) as { type: string }[];
    return rows.map((r) => r.type);
  } finally {
    db.close();
  }
}

/** The revocation recorded for a certificate serial (hex), or undefined. */
export function storedRevocation(gateway: Gateway, serialHex: string): { status: string; reason: number | null } | undefined {
  const db = new Database(path.join(gateway.dataDir, 'gateway.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT status, revocation_reason AS reason FROM certificates WHERE serial_hex = ?').get(normalizeHex(serialHex)) as
      | { status: string; reason: number | null }
      | undefined;
    return row;
  } finally {
    db.close();
  }
}

export function problemType(data: unknown): string | undefined {
  return (data as { type?: string } | null)?.type;
}

// ---------- tls-alpn-01 responder (RFC 8737) ----------

export interface TlsAlpnResponder {
  /** Serve this PEM certificate + key for the next acme-tls/1 handshakes. */
  set(certPem: string, keyPem: string): void;
  /** SNI values seen in acme-tls/1 handshakes. */
  sniSeen(): string[];
  close(): Promise<void>;
}

/** A TLS server that answers only ALPN acme-tls/1 with the configured challenge certificate. */
export async function startTlsAlpnResponder(port: number, host = '127.0.0.1'): Promise<TlsAlpnResponder> {
  const tls = await import('node:tls');
  let context: import('node:tls').SecureContext | undefined;
  const sni: string[] = [];
  const server = tls.createServer({
    ALPNProtocols: ['acme-tls/1'],
    SNICallback: (servername, cb) => {
      sni.push(servername);
      cb(null, context);
    },
  });
  server.on('secureConnection', (s) => s.end());
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    set: (cert, key) => {
      context = tls.createSecureContext({ cert, key });
    },
    sniSeen: () => [...sni],
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
