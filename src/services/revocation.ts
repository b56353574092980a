import { X509Certificate } from 'node:crypto';
import type { JWK } from 'jose';
import { normalizeSerialHex, spkiSha256OfCert } from '../acme/issued-check.js';
import { parsePayload, revokePayload } from '../acme/payloads.js';
import { AcmeProblem } from '../acme/problems.js';
import { spkiSha256OfJwk } from '../acme/csr.js';
import type { Account } from '../acme/types.js';
import { PcaError } from '../pca/errors.js';
import { describePcaError, problemFromPcaError } from '../pca/problems.js';
import type { PcaClient } from '../pca/types.js';
import { eventsOf, type ServiceContext } from './context.js';

// Certificate revocation (RFC 8555 §7.6), signed by the account that owns the certificate (kid) or by
// the certificate's own key (jwk). The PCA's revoke call takes no reason (ncp-pca-api §4.7), so the
// reason is kept here only.

/** RFC 5280 §5.3.1 reason codes a subscriber may ask for; 7 is unused. */
const ALLOWED_REASONS = new Set([0, 1, 2, 3, 4, 5, 6, 8, 9, 10]);

/** A verified revokeCert request: signed by the account (kid) or by the certificate's key (jwk). */
export type RevocationRequest = { payload: Record<string, unknown> | null } & ({ signer: 'account'; account: Account } | { signer: 'key'; jwk: JWK });

export class RevocationService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly pca: PcaClient,
  ) {}

  async revoke(req: RevocationRequest, directory: string): Promise<void> {
    const body = parsePayload(revokePayload, req.payload, 'revokeCert');
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(Buffer.from(body.certificate, 'base64url'));
    } catch {
      throw new AcmeProblem('malformed', 'the "certificate" is not a DER X.509 certificate');
    }
    const reason = body.reason ?? 0;
    if (!ALLOWED_REASONS.has(reason)) {
      throw new AcmeProblem('badRevocationReason', `revocation reason ${reason} is not allowed (use 0-6 or 8-10)`);
    }
    const cert = await this.ctx.store.certificates.getBySerial(normalizeSerialHex(leaf.serialNumber));
    if (!cert || cert.directory !== directory || !leaf.raw.equals(new X509Certificate(cert.leafPem).raw)) {
      throw new AcmeProblem('malformed', 'this server did not issue that certificate', { status: 404 });
    }
    if (req.signer === 'account') {
      if (cert.accountId !== req.account.id) throw new AcmeProblem('unauthorized', 'the account does not own this certificate');
    } else {
      const jwkSpki = spkiSha256OfJwk(req.jwk);
      if (jwkSpki !== spkiSha256OfCert(leaf)) throw new AcmeProblem('unauthorized', "the request is not signed by the certificate's key");
    }
    if (cert.status === 'revoked') throw new AcmeProblem('alreadyRevoked', 'the certificate is already revoked');
    try {
      await this.pca.revoke(cert.pcaSerial);
    } catch (err) {
      // A PCA that already has it revoked (e.g. our earlier call timed out after it acted) is fine.
      if (!(err instanceof PcaError && err.reason === 'alreadyRevoked')) {
        const pca = err instanceof PcaError ? { reason: err.reason, answer: describePcaError(err) } : String(err);
        this.ctx.logger.warn({ serial: cert.pcaSerial, pca }, 'PCA revoke failed');
        throw problemFromPcaError(err, 'revoke');
      }
    }
    const done = await this.ctx.store.certificates.revoke(cert.id, reason, this.ctx.clock.now());
    if (!done) throw new AcmeProblem('alreadyRevoked', 'the certificate is already revoked');
    this.ctx.logger.info({ serial: cert.pcaSerial, reason }, 'certificate revoked');
    await eventsOf(this.ctx).record({
      action: 'certificate.revoked',
      notify: 'certificate.revoked',
      accountId: cert.accountId,
      directory: cert.directory,
      orderId: cert.orderId,
      certificateId: cert.id,
      serialHex: cert.serialHex,
      ...(req.signer === 'key' ? { actor: { kind: 'account' as const, name: 'certificate key' } } : {}),
      detail: { reason, by: req.signer === 'account' ? 'account' : 'certificate key' },
    });
  }
}
