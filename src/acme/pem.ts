/** PEM helpers shared by the NCP client and the simulator (RFC 7468). */

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  der: Buffer;
}

/** Every PEM block in `text`, in order; blocks with an empty or non-base64 body are skipped. */
export function parsePemBlocks(text: string, label?: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const blockLabel = m[1] ?? '';
    if (label !== undefined && blockLabel !== label) continue;
    const body = (m[2] ?? '').replace(/\s+/g, '');
    if (body === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) continue;
    out.push({ label: blockLabel, der: Buffer.from(body, 'base64') });
  }
  return out;
}

/** Canonical PEM: 64-column base64, LF line ends, trailing newline (RFC 7468 §2 "strict"). */
export function toPem(label: string, der: Uint8Array | ArrayBuffer): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Certificate PEM blocks found in `text`, normalised, duplicates (same DER) removed, order kept. */
export function splitCertificatePems(text: string): string[] {
  return dedupeDer(parsePemBlocks(text, 'CERTIFICATE').map((b) => b.der)).map((der) => toPem('CERTIFICATE', der));
}

export function dedupeDer(items: Buffer[]): Buffer[] {
  const seen = new Set<string>();
  const out: Buffer[] = [];
  for (const der of items) {
    const key = der.toString('base64');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(der);
  }
  return out;
}
