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

/** What a confirmed revocation came to. */
export type RevokeOutcome =
  /** The PCA revoked it: it said so (`confirmedBy` null), or reading back shows it after an unclear answer. */
  | { kind: 'revoked'; confirmedBy: string | null; unclearAnswer: string | null }
  /** The answer was unclear and reading back shows the certificate not revoked: nothing happened; try again. */
  | { kind: 'notRevoked'; error: PcaError; source: string }
  /** The PCA refused, or the answer was unclear and could not be read back: its error as it came. */
  | { kind: 'failed'; error: unknown };

/**
 * Without a publisher (tests that build a service by hand): the PCA's answer as it came, its
 * "already revoked" (the SDK enum's guess, ncp-pca-api §2) taken at its word.
 */
export async function revokeUnconfirmed(pca: Pick<PcaClient, 'revoke'>, serialNo: string): Promise<RevokeOutcome> {
  try {
    await pca.revoke(serialNo);
    return { kind: 'revoked', confirmedBy: null, unclearAnswer: null };
  } catch (err) {
    return err instanceof PcaError && err.reason === 'alreadyRevoked' ? { kind: 'revoked', confirmedBy: null, unclearAnswer: describePcaError(err) } : { kind: 'failed', error: err };
  }
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
   * Revokes (ncp-pca-api §3.3) and makes sure: an answer lost, garbled or "already revoked" is read
   * back (revocationState) instead of trusted; then the CRL is rotated (unless reading back did).
   * Used by ACME revocation and by operators' revocations alike.
   */
  async revokeConfirmed(serialNo: string): Promise<RevokeOutcome> {
    let outcome: RevokeOutcome;
    let rotated = false;
    try {
      await this.pca.revoke(serialNo);
      outcome = { kind: 'revoked', confirmedBy: null, unclearAnswer: null };
    } catch (err) {
      const pca = err instanceof PcaError ? err : null;
      if (!pca || !(pca.outcomeUnknown || pca.reason === 'alreadyRevoked')) return { kind: 'failed', error: err };
      const state = await this.revocationState(serialNo);
      rotated = state.rotated;
      if (state.revoked === true) outcome = { kind: 'revoked', confirmedBy: state.source, unclearAnswer: describePcaError(pca) };
      else if (state.revoked === false) return { kind: 'notRevoked', error: pca, source: state.source };
      else return { kind: 'failed', error: err };
    }
    if (!rotated) await this.rotate();
    return outcome;
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
