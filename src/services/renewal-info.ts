import { AcmeProblem } from '../acme/problems.js';
import type { ServiceContext } from './context.js';
import { parseCertId } from '../acme/cert-id.js';

// ACME Renewal Information (RFC 9773): a suggested renewal window per certificate. The window opens
// at two thirds of the lifetime (the same point as Let's Encrypt and certbot's default) and lasts a
// twelfth of it; a revoked certificate gets a window in the past, which means "renew now" (§4.2).

const RETRY_AFTER_SECONDS = 6 * 3600;

/** The suggested renewal window (the wire shape is written in http/render.ts). */
export interface RenewalInfo {
  window: { start: Date; end: Date };
  retryAfterSeconds: number;
}

export class RenewalInfoService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The window of a certificate of this directory; another directory's is unknown here, like its accounts. */
  async lookup(certId: string, directory: string): Promise<RenewalInfo> {
    const parsed = parseCertId(certId);
    if (!parsed) throw new AcmeProblem('malformed', 'the certID must be base64url(AKI keyIdentifier) "." base64url(serial) (RFC 9773 §4.1)');
    const cert = await this.ctx.store.certificates.getBySerial(parsed.serialHex);
    if (!cert || cert.directory !== directory || (cert.akiB64 !== null && cert.akiB64 !== parsed.akiB64.replace(/=+$/, ''))) {
      throw new AcmeProblem('malformed', 'no certificate with that certID was issued here', { status: 404 });
    }
    if (cert.status === 'revoked') {
      const now = this.ctx.clock.nowMs();
      return { window: { start: new Date(now - 2 * 3600_000), end: new Date(now - 3600_000) }, retryAfterSeconds: RETRY_AFTER_SECONDS };
    }
    const from = cert.notBefore.getTime();
    const life = cert.notAfter.getTime() - from;
    const start = from + Math.floor((life * 2) / 3);
    const end = Math.max(start + 60_000, start + Math.floor(life / 12));
    return { window: { start: new Date(start), end: new Date(end) }, retryAfterSeconds: RETRY_AFTER_SECONDS };
  }
}
