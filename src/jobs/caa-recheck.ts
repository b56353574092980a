import { AcmeProblem } from '../acme/problems.js';
import type { Account, Authorization, Order } from '../acme/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Store } from '../store/types.js';
import type { CaaChecker, CaaSettings } from '../validation/caa.js';

// CAA again just before signing (issue 9 item 4): an authorization may be reused for days, and the
// name's owner may have changed its CAA records since; when the check is older than the recheck
// window it is done again (CA/Browser Forum Baseline Requirements §3.2.2.8: CAA is checked within
// 8 hours before issuance; Boulder rechecks authorizations older than 7 hours). The issuance job
// calls problemFor() before it signs; a problem makes the order invalid with it.

/** A directory's CAA configuration: the checker's settings plus how long a check stays good. */
export interface CaaPolicy extends CaaSettings {
  recheckAfterSeconds: number;
}

/** CAA as the jobs use it, built in deps.ts. */
export interface CaaWiring {
  checker: CaaChecker;
  /** The CAA policy of a directory; undefined when CAA is off there. */
  policyFor(directory: string): CaaPolicy | undefined;
  /** The account URL that RFC 8657 `accounturi` is compared with. */
  accountUrl(account: Account): string;
}

export interface CaaRecheckDeps {
  store: { accounts: Pick<Store['accounts'], 'get'>; authorizations: Pick<Store['authorizations'], 'getMany'> };
  caa: CaaWiring;
  clock: Clock;
  logger: Logger;
}

export class CaaRecheck {
  constructor(private readonly deps: CaaRecheckDeps) {}

  /**
   * Null when the order may be signed as far as CAA goes: CAA is off for its directory, or every
   * dns authorization was checked within the window, or is checked again now and still allowed.
   * Otherwise the `caa` (or, when DNS failed, `dns`) problem, one subproblem per identifier when
   * several are refused (RFC 8555 §6.7.1).
   */
  async problemFor(order: Order): Promise<AcmeProblem | null> {
    const policy = this.deps.caa.policyFor(order.directory);
    if (!policy) return null;
    const now = this.deps.clock.nowMs();
    const authzs = await this.deps.store.authorizations.getMany(order.authzIds);
    const stale = authzs.filter((a) => a.identifier.type === 'dns' && isStale(a, now, policy.recheckAfterSeconds * 1000));
    if (stale.length === 0) return null;
    const account = await this.deps.store.accounts.get(order.accountId);
    if (!account) return new AcmeProblem('serverInternal', 'the account of the order is gone');
    const accountUri = this.deps.caa.accountUrl(account);

    const problems: AcmeProblem[] = [];
    for (const authz of stale) {
      // A valid authorization with no valid challenge was pre-authorized (an EAB key's scope, issue
      // 9): no validation ever checked its CAA, so it is checked here before every signing, with no
      // method (RFC 8657 validationmethods then refuses). Not valid: the order cannot be ready.
      const method = authz.challenges.find((c) => c.status === 'valid')?.type ?? null;
      if (!method && authz.status !== 'valid') continue;
      const outcome = await this.deps.caa.checker.check({ identifier: authz.identifier, wildcard: authz.wildcard, accountUri, method }, policy);
      this.deps.logger.info({ orderId: order.id, authzId: authz.id, allowed: outcome.allowed }, 'CAA rechecked before signing');
      if (!outcome.allowed) problems.push(outcome.problem);
    }
    if (problems.length === 0) return null;
    if (problems.length === 1) return problems[0]!;
    const type = problems.every((p) => p.type === problems[0]!.type) ? problems[0]!.type : 'caa';
    return new AcmeProblem(type, `CAA forbids issuance for ${problems.length} identifiers of the order`, { subproblems: problems });
  }
}

/** Validated longer ago than the window (or with no time recorded, which is never trusted). */
function isStale(authz: Authorization, nowMs: number, windowMs: number): boolean {
  const validatedAt = authz.challenges.find((c) => c.status === 'valid')?.validatedAt;
  return !validatedAt || nowMs - validatedAt.getTime() > windowMs;
}
