import { normalizeSerialHex } from '../acme/issued-check.js';
import type { Logger } from '../platform/logger.js';
import { PcaError } from './errors.js';
import { describePcaError } from './problems.js';
import type { PcaClient } from './types.js';
import { x509 } from './x509-setup.js';

// Revocation that is confirmed, and visible at once (issue 10). NCP documents no "already revoked"
// answer and no revocation status in Get issued cert (ncp-pca-api §3.3, §3.5, §4.7): after a revoke
// whose answer was lost or unclear, the gateway reads the state back instead of trusting an error
// code — the certificate's status when the PCA reports one, else its CRL. And the CRL is published
// again right after a revocation (POST /ca/{caTag}/crl/rotate, §3.8), so that relying parties see it
// without waiting for the PCA's next cycle; a PCA that refuses the rotation is not asked again.

/** Refusals that mean "this PCA (or this sub account) does not rotate": not worth asking again. */
const NOT_ALLOWED = new Set(['authentication', 'unknownCa', 'certificateNotFound', 'badRequest', 'refused']);

export interface RevocationState {
  /** true: the PCA has it revoked; false: it has not; null: it could not be read. */
  revoked: boolean | null;
  /** Where that was read: "Get issued cert" or "the CRL". */
  source: string;
}

export class CrlPublisher {
  private rotating: boolean;

  constructor(
    private readonly pca: PcaClient,
    /** pca.rotateCrlAfterRevoke. */
    enabled: boolean,
    private readonly logger: Logger,
  ) {
    this.rotating = enabled;
  }

  /** Publishes the CRL now, when enabled and the PCA allows it; never throws. True when it was rotated. */
  async rotate(): Promise<boolean> {
    if (!this.rotating) return false;
    try {
      await this.pca.rotateCrl();
      return true;
    } catch (err) {
      const pca = err instanceof PcaError ? err : null;
      if (pca && NOT_ALLOWED.has(pca.reason)) {
        this.rotating = false;
        this.logger.warn({ pca: describePcaError(pca) }, 'the Private CA refused to rotate its CRL; not asked again: revocations reach the CRL at its next cycle (pca.rotateCrlAfterRevoke)');
      } else {
        this.logger.warn({ err: pca ? describePcaError(pca) : (err as Error).message }, 'CRL rotation after a revocation failed; the CRL lists it at its next cycle');
      }
      return false;
    }
  }

  /**
   * Reads back whether the PCA has the certificate revoked: its status when Get issued cert reports
   * one, else whether the CRL (rotated first, when allowed) lists it.
   */
  async revocationState(serialNo: string): Promise<RevocationState & { rotated: boolean }> {
    try {
      const info = await this.pca.getCert(serialNo);
      if (info.revoked !== null) return { revoked: info.revoked, source: 'Get issued cert', rotated: false };
    } catch (err) {
      this.logger.warn({ serial: serialNo, err: err instanceof PcaError ? describePcaError(err) : String(err) }, 'could not read the certificate back from the Private CA');
      return { revoked: null, source: 'Get issued cert', rotated: false };
    }
    const rotated = await this.rotate();
    try {
      const crl = new x509.X509Crl(await this.pca.crl());
      const wanted = normalizeSerialHex(serialNo);
      return { revoked: crl.entries.some((e) => normalizeSerialHex(e.serialNumber) === wanted), source: 'the CRL', rotated };
    } catch (err) {
      this.logger.warn({ err: err instanceof PcaError ? describePcaError(err) : String(err) }, 'could not read the CRL of the Private CA');
      return { revoked: null, source: 'the CRL', rotated };
    }
  }
}
