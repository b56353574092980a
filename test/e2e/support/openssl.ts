import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Chain checks done by the real `openssl` binary rather than by our own x509 code, so a bug shared
// by the gateway and its tests cannot hide a broken chain.

export interface VerifiedCertificate {
  leafPem: string;
  /** Intermediates (and possibly the root) that followed the leaf, in order. */
  chainPems: string[];
  /** SAN entries as openssl prints them without the type prefix, e.g. "*.x.e2e.test", "127.0.0.1". */
  sans: string[];
  /** Hex serial as printed by `openssl x509 -serial` (upper case, no colons). */
  serial: string;
  notAfter: string;
}

export interface VerifyExpectations {
  /** Exact SAN set (order-insensitive, case-insensitive). */
  sans?: string[];
  /** Require at least one certificate after the leaf (certbot needs >= 2 certificates; spec §1.32). Default true. */
  requireChain?: boolean;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitPemCertificates(pem: string): string[] {
  return (pem.match(PEM_BLOCK) ?? []).map((b) => `${b}\n`);
}

function openssl(args: string[]): string {
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** Parses `openssl x509 -noout -ext subjectAltName` output into bare values. */
export function parseSanOutput(text: string): string[] {
  const lines = text.split('\n').filter((l) => !/X509v3 Subject Alternative Name/i.test(l) && l.trim());
  return lines
    .join(',')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => s.replace(/^(DNS|IP Address|IP|email|URI):/i, ''));
}

/**
 * `openssl verify -CAfile root -untrusted chain leaf`, then reads the leaf's SANs and serial.
 * `certs` is either a full chain PEM (leaf first) or the leaf and the chain separately.
 * Throws with openssl's own words when anything is off.
 */
export function opensslVerify(
  rootPemPath: string,
  certs: string | { leaf: string; chain: string },
  expect: VerifyExpectations = {},
): VerifiedCertificate {
  const all = typeof certs === 'string' ? splitPemCertificates(certs) : [...splitPemCertificates(certs.leaf), ...splitPemCertificates(certs.chain)];
  const [leafPem, ...chainPems] = all;
  if (!leafPem) throw new Error('no PEM certificate found to verify');
  if ((expect.requireChain ?? true) && chainPems.length === 0) {
    throw new Error('only the leaf certificate was returned; clients (certbot) need leaf + issuer');
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-e2e-verify-'));
  try {
    const leafPath = path.join(dir, 'leaf.pem');
    const chainPath = path.join(dir, 'chain.pem');
    fs.writeFileSync(leafPath, leafPem);
    fs.writeFileSync(chainPath, chainPems.join(''));
    // -purpose sslserver: the leaf must be usable as a TLS server certificate (serverAuth EKU, spec §1.34).
    const verifyArgs = ['verify', '-purpose', 'sslserver', '-CAfile', rootPemPath];
    if (chainPems.length > 0) verifyArgs.push('-untrusted', chainPath);
    verifyArgs.push(leafPath);
    const out = openssl(verifyArgs);
    if (!out.includes(`${leafPath}: OK`)) throw new Error(`openssl verify did not say OK:\n${out}`);

    const sans = parseSanOutput(openssl(['x509', '-noout', '-ext', 'subjectAltName', '-in', leafPath]));
    const serial = openssl(['x509', '-noout', '-serial', '-in', leafPath]).trim().replace(/^serial=/, '');
    const notAfter = openssl(['x509', '-noout', '-enddate', '-in', leafPath]).trim().replace(/^notAfter=/, '');

    if (expect.sans) {
      const norm = (xs: string[]): string[] => xs.map((x) => x.toLowerCase()).sort();
      const got = norm(sans);
      const want = norm(expect.sans);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        throw new Error(`leaf SANs are ${JSON.stringify(got)}, expected exactly ${JSON.stringify(want)}`);
      }
    }
    return { leafPem, chainPems, sans, serial, notAfter };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
