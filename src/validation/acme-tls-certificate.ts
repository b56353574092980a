import 'reflect-metadata'; // @peculiar/x509 (through tsyringe) needs it loaded first
import * as x509 from '@peculiar/x509';
import { keyAuthorizationSha256 } from './key-authorization.js';
import { sameIp } from './ip.js';
import type { ValidationIdentifier } from './types.js';

// The certificate checks of tls-alpn-01 (RFC 8737 §3), apart from the network so they can be tested
// and reused alone. Only parsing is done here: no signature is checked, so no crypto provider is needed.

/** id-pe-acmeIdentifier (RFC 8737 §6.1). */
export const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';
const SUBJECT_ALT_NAME_OID = '2.5.29.17';

/** Undefined when the certificate proves control of `identifier`; otherwise what is wrong with it. */
export function acmeTlsCertificateProblem(der: Uint8Array, identifier: ValidationIdentifier, keyAuthorization: string): string | undefined {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(der);
  } catch (err) {
    return `the certificate could not be parsed (${err instanceof Error ? err.message : String(err)})`;
  }

  // RFC 8737 §3: "a subjectAltName extension containing the dNSName being validated and no other entries".
  const sanExtensions = cert.extensions.filter((e) => e.type === SUBJECT_ALT_NAME_OID);
  if (sanExtensions.length !== 1) return sanExtensions.length === 0 ? 'it has no subjectAltName extension' : 'it has more than one subjectAltName extension';
  let names: readonly x509.GeneralName[];
  try {
    names = new x509.SubjectAlternativeNameExtension(sanExtensions[0]!.rawData).names.items;
  } catch {
    return 'its subjectAltName extension could not be parsed';
  }
  const listed = names.map((n) => `${n.type}:${n.value}`).join(', ');
  if (names.length !== 1) return `its subjectAltName must contain exactly one entry, found ${names.length} (${listed})`;
  const only = names[0]!;
  const matches =
    identifier.type === 'dns'
      ? only.type === 'dns' && only.value.toLowerCase() === identifier.value.toLowerCase()
      : only.type === 'ip' && sameIp(only.value, identifier.value); // RFC 8738 §6: an iPAddress entry
  if (!matches) return `its subjectAltName is ${listed}, expected ${identifier.type === 'dns' ? 'dns' : 'ip'}:${identifier.value}`;

  // RFC 8737 §3: the acmeIdentifier extension, critical, holding SHA-256(keyAuthorization).
  const acmeExtensions = cert.extensions.filter((e) => e.type === ACME_IDENTIFIER_OID);
  if (acmeExtensions.length === 0) return `it has no acmeIdentifier extension (${ACME_IDENTIFIER_OID})`;
  if (acmeExtensions.length > 1) return 'it has more than one acmeIdentifier extension';
  const ext = acmeExtensions[0]!;
  if (!ext.critical) return 'its acmeIdentifier extension is not marked critical';
  // extnValue holds the DER of Authorization ::= OCTET STRING (SIZE (32)): tag 04, length 32, digest.
  const expected = Buffer.concat([Buffer.from([0x04, 0x20]), keyAuthorizationSha256(keyAuthorization)]);
  const got = Buffer.from(ext.value);
  if (!got.equals(expected)) {
    return `its acmeIdentifier extension value is ${hexPreview(got)}, expected ${expected.toString('hex')} (a DER OCTET STRING of SHA-256 of the key authorization)`;
  }
  return undefined;
}

function hexPreview(bytes: Buffer): string {
  const hex = bytes.subarray(0, 64).toString('hex');
  return bytes.length > 64 ? `${hex}... (${bytes.length} bytes)` : hex;
}
