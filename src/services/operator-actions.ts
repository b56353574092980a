import type { AuditActorKind, OpsEventSink } from '../acme/ops-events.js';
import { PcaError } from '../pca/errors.js';
import { describePcaError } from '../pca/problems.js';
import type { PcaClient } from '../pca/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Certificate } from '../acme/types.js';
import type { Store } from '../store/types.js';

// What an operator may change (the admin API and the admin commands): deactivate an account, revoke
// a certificate at the PCA. Every action is on the audit trail with who took it.

export interface Operator {
  kind: Extract<AuditActorKind, 'admin' | 'cli'>;
  name: string;
}

export class OperatorActionError extends Error {
  constructor(
    message: string,
    readonly code: 'not-found' | 'conflict' | 'pca',
  ) {
    super(message);
  }
}

export class OperatorActions {
  constructor(private readonly o: { store: Store; clock: Clock; logger: Logger; events: OpsEventSink; pcaFor?: (directory: string) => PcaClient | undefined }) {}

  async deactivateAccount(id: string, by: Operator): Promise<void> {
    const account = await this.o.store.accounts.get(id);
    if (!account) throw new OperatorActionError(`no account ${id}`, 'not-found');
    const done = await this.o.store.accounts.deactivate(id, this.o.clock.now());
    if (!done) throw new OperatorActionError(`account ${id} is ${account.status}, not valid`, 'conflict');
    await this.o.events.record({ action: 'admin.account.deactivated', actor: by, accountId: id, directory: account.directory });
  }

  /** Revokes at the PCA, then on record (RFC 5280 reason code, 0 unspecified). */
  async revokeCertificate(cert: Certificate, reason: number, by: Operator): Promise<void> {
    if (!this.o.pcaFor) throw new OperatorActionError('revocation needs the Private CA: run it through the admin API of a running gateway', 'pca');
    // The certificate's own directory's CA (issue 9: each directory has its own PCA target).
    const pca = this.o.pcaFor(cert.directory);
    if (!pca) throw new OperatorActionError(`certificate ${cert.serialHex} belongs to directory ${cert.directory}, which is not configured`, 'pca');
    if (cert.status === 'revoked') throw new OperatorActionError(`certificate ${cert.serialHex} is already revoked`, 'conflict');
    try {
      await pca.revoke(cert.pcaSerial);
    } catch (err) {
      // Already revoked at the PCA (an earlier call timed out after it acted): record it here too.
      if (!(err instanceof PcaError && err.reason === 'alreadyRevoked')) {
        throw new OperatorActionError(`the Private CA refused the revocation: ${err instanceof PcaError ? describePcaError(err) : (err as Error).message}`, 'pca');
      }
    }
    if (!(await this.o.store.certificates.revoke(cert.id, reason, this.o.clock.now()))) {
      throw new OperatorActionError(`certificate ${cert.serialHex} is already revoked`, 'conflict');
    }
    this.o.logger.info({ serial: cert.pcaSerial, reason, by: `${by.kind}:${by.name}` }, 'certificate revoked by an operator');
    await this.o.events.record({
      action: 'certificate.revoked',
      notify: 'certificate.revoked',
      actor: by,
      accountId: cert.accountId,
      directory: cert.directory,
      orderId: cert.orderId,
      certificateId: cert.id,
      serialHex: cert.serialHex,
      detail: { reason, by: `${by.kind}:${by.name}` },
    });
  }
}
