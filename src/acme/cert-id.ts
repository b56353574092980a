// ACME Renewal Information certificate identifiers (RFC 9773 §4.1), used by renewalInfo and by the
// newOrder `replaces` check.

/** RFC 9773 §4.1 certID: base64url(AKI keyIdentifier) "." base64url(serial DER INTEGER bytes). */
export function parseCertId(certId: string): { akiB64: string; serialHex: string } | null {
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(certId);
  if (!m) return null;
  const serial = Buffer.from(m[2]!, 'base64url');
  if (serial.length === 0 || serial.length > 21) return null;
  // Accept the serial with or without its DER sign byte (interop item 37).
  let hex = serial.toString('hex').replace(/^(00)+/, '');
  if (hex === '') hex = '0';
  return { akiB64: m[1]!, serialHex: hex };
}
