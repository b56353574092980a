import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface IssuedRecord {
  serialNo: string;
  certPem: string;
  /** Epoch ms. */
  issuedAt: number;
  commonName: string;
  names: string[];
  /** Hex SHA-256 of the SubjectPublicKeyInfo DER. */
  spkiSha256: string;
  /** Hex SKI of the CA that signed it, so a CRL lists only its own certificates. */
  issuerKeyId: string;
  notBefore: number;
  notAfter: number;
  publicKeyAlgorithm: string;
  revokedAt?: number;
}

type Line = { type: 'issue'; record: Omit<IssuedRecord, 'revokedAt'> } | { type: 'revoke'; serialNo: string; at: number };

/**
 * Issued certificates and revocations for the simulator: an append-only JSON-lines journal in dataDir,
 * replayed into an in-memory index at start. Appends are synchronous so a record is on disk before the
 * response (or the dropped connection of the dropAfterSign fault) goes out.
 */
export class IssuedStore {
  private readonly path: string;
  private readonly bySerial = new Map<string, IssuedRecord>();
  private readonly order: string[] = [];

  constructor(dataDir: string) {
    this.path = join(dataDir, 'issued.jsonl');
    let text = '';
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // a torn final line after a crash; everything before it is intact
      }
      this.apply(line);
    }
  }

  add(record: Omit<IssuedRecord, 'revokedAt'>): void {
    this.write({ type: 'issue', record });
  }

  revoke(serialNo: string, at: number): void {
    this.write({ type: 'revoke', serialNo, at });
  }

  get(serialNo: string): IssuedRecord | undefined {
    return this.bySerial.get(serialNo);
  }

  /** Issuance order. */
  list(): IssuedRecord[] {
    return this.order.map((s) => this.bySerial.get(s)!);
  }

  get size(): number {
    return this.order.length;
  }

  private write(line: Line): void {
    appendFileSync(this.path, `${JSON.stringify(line)}\n`, { mode: 0o600 });
    this.apply(line);
  }

  private apply(line: Line): void {
    if (line.type === 'issue') {
      if (!this.bySerial.has(line.record.serialNo)) this.order.push(line.record.serialNo);
      this.bySerial.set(line.record.serialNo, { ...line.record });
    } else {
      const r = this.bySerial.get(line.serialNo);
      if (r && r.revokedAt === undefined) r.revokedAt = line.at;
    }
  }
}
