import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import type { Random } from '../../platform/random.js';
import { ensureX509Crypto, x509 } from '../x509-setup.js';
import { parsePemBlocks, toPem } from '../../acme/pem.js';

/** ECDSA P-256 with SHA-256 for all simulator CA keys: small, fast, accepted by every ACME client. */
export const CA_KEY_ALG: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
export const CA_SIGN_ALG: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

const DAY_MS = 86_400_000;
/**
 * Subject names. The default CA keeps the names it always had; every further CA (one per caTag)
 * carries its tag, so two simulated CAs never share a name and a chain of one can never be
 * mistaken for a chain of the other by name alone (RFC 5280 §6.1 chains by name, then signature).
 */
const rootName = (label?: string): string => `CN=acme-pca-gateway Simulator Root CA${label ? ` (${label})` : ''}, O=acme-pca-gateway, OU=PCA Simulator`;
const intermediateName = (label?: string): string =>
  `CN=acme-pca-gateway Simulator Intermediate CA${label ? ` (${label})` : ''}, O=acme-pca-gateway, OU=PCA Simulator`;

export interface CaCert {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
  pem: string;
  /** Hex SubjectKeyIdentifier; leaves and CRLs carry it as their AKI (RFC 5280 §4.2.1.1). */
  keyId: string;
}

export interface CaMaterial {
  root: CaCert;
  /** The CA that signs leaves and CRLs: the intermediate with 2 tiers, the root with 1. */
  issuing: CaCert;
  /** issuing .. root, issuer first (what the sign response's caChain carries). */
  chainPems: string[];
  rootPemPath: string;
}

/**
 * Loads the simulator's CA hierarchy from dataDir, creating what is missing. Keys are PKCS#8 PEM with
 * mode 0600. The root is also written to <dataDir>/root.pem so users can add it to their trust store.
 * `label` (the caTag of a CA beside the default one) goes into the names of a CA created here.
 */
export async function loadOrCreateCa(dataDir: string, tiers: 1 | 2, clock: Clock, random: Random, label?: string): Promise<CaMaterial> {
  ensureX509Crypto();
  const caDir = join(dataDir, 'ca');
  await mkdir(caDir, { recursive: true, mode: 0o700 });
  const rootPemPath = join(dataDir, 'root.pem');

  const root =
    (await loadCaCert(join(caDir, 'root.crt.pem'), join(caDir, 'root.key.pem'))) ??
    (await createCa(caDir, 'root', random, async (keys, serialNumber) => {
      const now = clock.nowMs();
      return x509.X509CertificateGenerator.createSelfSigned({
        serialNumber,
        name: rootName(label),
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 3652 * DAY_MS),
        keys,
        signingAlgorithm: CA_SIGN_ALG,
        extensions: [
          new x509.BasicConstraintsExtension(true, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
    }));
  await writeFile(rootPemPath, root.pem);

  let issuing = root;
  if (tiers === 2) {
    issuing =
      (await loadCaCert(join(caDir, 'intermediate.crt.pem'), join(caDir, 'intermediate.key.pem'))) ??
      (await createCa(caDir, 'intermediate', random, async (keys, serialNumber) => {
        const now = clock.nowMs();
        return x509.X509CertificateGenerator.create({
          serialNumber,
          subject: intermediateName(label),
          issuer: root.cert.subjectName,
          notBefore: new Date(now - 60_000),
          notAfter: new Date(Math.min(now + 1826 * DAY_MS, root.cert.notAfter.getTime())),
          publicKey: keys.publicKey,
          signingKey: root.key,
          signingAlgorithm: CA_SIGN_ALG,
          extensions: [
            new x509.BasicConstraintsExtension(true, 0, true),
            new x509.KeyUsagesExtension(
              x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
              true,
            ),
            await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
            new x509.AuthorityKeyIdentifierExtension(root.keyId),
          ],
        });
      }));
  }
  const chainPems = issuing === root ? [root.pem] : [issuing.pem, root.pem];
  return { root, issuing, chainPems, rootPemPath };
}

async function loadCaCert(certPath: string, keyPath: string): Promise<CaCert | undefined> {
  let certText: string;
  let keyText: string;
  try {
    [certText, keyText] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const keyDer = parsePemBlocks(keyText, 'PRIVATE KEY')[0]?.der;
  if (!keyDer) throw new Error(`simulator CA key ${keyPath} is not a PKCS#8 PEM`);
  const key = await webcrypto.subtle.importKey('pkcs8', keyDer, CA_KEY_ALG, false, ['sign']);
  const cert = new x509.X509Certificate(certText);
  return { cert, key, pem: cert.toString('pem').replace(/\r\n/g, '\n').trimEnd() + '\n', keyId: keyIdOf(cert) };
}

async function createCa(
  caDir: string,
  name: string,
  random: Random,
  make: (keys: webcrypto.CryptoKeyPair, serialHex: string) => Promise<x509.X509Certificate>,
): Promise<CaCert> {
  const keys = (await webcrypto.subtle.generateKey(CA_KEY_ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await make(keys, serialHex(random));
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const pem = toPem('CERTIFICATE', new Uint8Array(cert.rawData));
  // Key first, then the certificate: a crash in between leaves no certificate without its key.
  await writeAtomic(join(caDir, `${name}.key.pem`), toPem('PRIVATE KEY', new Uint8Array(pkcs8)), 0o600);
  await writeAtomic(join(caDir, `${name}.crt.pem`), pem, 0o644);
  return { cert, key: keys.privateKey, pem, keyId: keyIdOf(cert) };
}

function keyIdOf(cert: x509.X509Certificate): string {
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ski) throw new Error('simulator CA certificate lacks a SubjectKeyIdentifier');
  return ski.keyId;
}

/** 20 random octets, top bit clear and first octet non-zero (RFC 5280 §4.1.2.2: positive, <= 20 octets). */
export function serialHex(random: Random): string {
  const b = Buffer.from(random.bytes(20));
  b[0] = (b[0]! & 0x7f) || 0x01;
  return b.toString('hex');
}

/** Colon-separated upper-case octets, the PCA's serialNo format (ncp-pca-api §3). */
export function colonSerial(hex: string): string {
  return (hex.length % 2 ? `0${hex}` : hex).toUpperCase().match(/../g)!.join(':');
}

export async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}
