import { AcmeProblem } from '../acme/problems.js';
import { effectiveAuthzStatus } from '../acme/status.js';
import type { Account } from '../acme/types.js';
import { eabKeyOf } from './account-key.js';
import type { ServiceContext } from './context.js';
import { concurrent, limitsFor, underLimits } from './rate-limits.js';

/** Challenges (RFC 8555 §7.5.1). */
export class ChallengeService {
  constructor(private readonly ctx: ServiceContext) {}

  async view(account: Account, challengeId: string) {
    const found = await this.ctx.store.challenges.get(challengeId);
    if (!found || found.authz.accountId !== account.id) throw new AcmeProblem('malformed', 'no such challenge', { status: 404 });
    return found;
  }

  /**
   * A POST with a JSON object (normally `{}`) asks for validation; POST-as-GET only reads (interop
   * item 28). Validation runs as a background job, which starts at once; the answer waits for it up
   * to challengeWaitMs, so a validation of a few milliseconds comes back `valid` and the client's
   * first poll of the authorization finds it valid, with no Retry-After slept (issue 11). The
   * validator connects as soon as the job starts, whether or not this answer is still on its way,
   * exactly as when it answered `processing` at once.
   */
  async respond(account: Account, challengeId: string, payload: Record<string, unknown> | null) {
    const found = await this.view(account, challengeId);
    if (payload === null) return found;
    const now = this.ctx.clock.now();
    if (effectiveAuthzStatus(found.authz, now) === 'expired') {
      throw new AcmeProblem('malformed', 'Expired authorization', { status: 404 });
    }
    if (found.challenge.status === 'pending') {
      // concurrentValidationsPerAccount, checked in the write that starts the validation; a refused
      // challenge stays pending, and the client may POST it again after Retry-After.
      const limits = limitsFor(this.ctx, await eabKeyOf(this.ctx, account.eabKeyId));
      const job = this.ctx.jobs.startJob('validate', now);
      let started = false;
      try {
        started = await underLimits(
          this.ctx,
          limits,
          // The store names the earliest deadline of the running validations; a job started now ends by its own at the latest.
          () => ({ what: 'validations in progress for this account', hint: '(when one of them ends)', fallbackRetryAtMs: job.deadlineAt }),
          () => this.ctx.store.challenges.start(challengeId, job, now, concurrent(limits.concurrentValidationsPerAccount)),
          { accountId: account.id, challengeId },
        );
      } finally {
        this.ctx.jobs.started('validate', challengeId, job, started);
      }
      if (started) return this.waitWhileProcessing(challengeId, this.ctx.settings.challengeWaitMs);
      if (found.authz.status !== 'pending') {
        throw new AcmeProblem('malformed', `the authorization is already ${found.authz.status}`);
      }
    }
    return (await this.ctx.store.challenges.get(challengeId))!;
  }

  /** Woken by each run of the validation job in this process; re-reads at least every 250 ms for a job another process runs. */
  private async waitWhileProcessing(challengeId: string, waitMs: number) {
    const deadline = Date.now() + waitMs;
    let found = (await this.ctx.store.challenges.get(challengeId))!;
    while (found.challenge.status === 'processing' && Date.now() < deadline && !this.ctx.jobs.waitsStopped) {
      await this.ctx.jobs.waitForRun('validate', challengeId, Math.min(250, deadline - Date.now()));
      found = (await this.ctx.store.challenges.get(challengeId))!;
    }
    return found;
  }
}
