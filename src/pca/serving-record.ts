import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { writePrivateFile } from '../platform/private-file.js';
import { join } from 'node:path';

// How the serving certificate is kept: as a record in the database that every replica reads (its
// private key sealed, so a database dump alone does not give the key away), and as two PEM files
// in the replica's own data directory, its fallback when the database cannot be read at start.

export interface ServingCredentials {
  keyPem: string;
  certPem: string;
  notBefore: Date;
  notAfter: Date;
}

/** Seals and opens small secrets (platform/key-sealer.ts: AES-256-GCM under the key-encryption key). */
export interface Sealer {
  seal(plain: Buffer, id: string): string;
  open(sealed: string, id: string): Buffer;
}

interface StoredRecord {
  v: 1;
  certPem: string;
  /** The private key, sealed with the leaf's fingerprint as associated data. */
  sealedKey: string;
}

/**
 * The sealing id binds the key to its certificate: a sealed key copied next to another certificate
 * (a mix-up, or a tampered row) fails to open instead of being served with the wrong chain.
 */
const sealId = (leaf: X509Certificate): string => `serving-key:${createHash('sha256').update(leaf.raw).digest('hex')}`;

export function encodeRecord(c: ServingCredentials, sealer: Sealer): string {
  const leaf = new X509Certificate(c.certPem);
  const record: StoredRecord = { v: 1, certPem: c.certPem, sealedKey: sealer.seal(Buffer.from(c.keyPem, 'utf8'), sealId(leaf)) };
  return JSON.stringify(record);
}

/** The credentials of a stored record for host; throws when it is not one (wrong KEK, other host, garbled). */
export function decodeRecord(raw: string, sealer: Sealer, host: string): ServingCredentials {
  const record = JSON.parse(raw) as Partial<StoredRecord>;
  if (record.v !== 1 || typeof record.certPem !== 'string' || typeof record.sealedKey !== 'string') throw new Error('not a serving certificate record');
  const leaf = new X509Certificate(record.certPem);
  const keyPem = sealer.open(record.sealedKey, sealId(leaf)).toString('utf8');
  return checked(leaf, record.certPem, keyPem, host);
}

/** The cached PEM pair in dir, when it is there and names host; null otherwise. */
export function loadCacheFiles(dir: string, host: string): ServingCredentials | null {
  try {
    const { key, cert } = cachePaths(dir);
    const certPem = readFileSync(cert, 'utf8');
    return checked(new X509Certificate(certPem), certPem, readFileSync(key, 'utf8'), host);
  } catch {
    return null;
  }
}

export function saveCacheFiles(dir: string, c: ServingCredentials): void {
  mkdirSync(dir, { recursive: true });
  const { key, cert } = cachePaths(dir);
  // Key first, each through a rename: a reader never sees a certificate without its key.
  writePrivateFile(`${key}.tmp`, c.keyPem); // 0600 whatever the umask, even over a stale .tmp left by a crash
  renameSync(`${key}.tmp`, key);
  writeFileSync(`${cert}.tmp`, c.certPem);
  renameSync(`${cert}.tmp`, cert);
}

function cachePaths(dir: string) {
  return { key: join(dir, 'serving-key.pem'), cert: join(dir, 'serving-cert.pem') };
}

function checked(leaf: X509Certificate, certPem: string, keyPem: string, host: string): ServingCredentials {
  const names = (leaf.subjectAltName ?? '').toLowerCase();
  const h = host.toLowerCase();
  if (!names.includes(`dns:${h}`) && !names.includes(`ip address:${h}`)) throw new Error(`the serving certificate does not name ${host}`);
  if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the serving certificate and key do not match');
  return { keyPem, certPem, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo) };
}
