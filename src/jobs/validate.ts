import { AcmeProblem } from '../acme/problems.js';
import { FAILED_VALIDATION_WINDOW_MS, failedValidationSubject } from '../acme/rate-limits.js';
import type { Account } from '../acme/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { Job, Store, ValidationResult } from '../store/types.js';
import type { ChallengeType, ChallengeValidator, ValidationOutcome } from '../validation/types.js';
import type { CaaWiring } from './caa-recheck.js';
import type { OpsEventSink } from '../acme/ops-events.js';
import type { JobHandler } from './runner.js';

// The validation job: run the checker for the challenge's type and record the outcome in one write
// (challenge, authorization and orders together, RFC 8555 §7.5.1 and interop item 29). Where CAA is
// on, a successful challenge is followed by the CAA check (RFC 8659), and a refusal makes the
// challenge invalid with the `caa` problem (RFC 8555 §6.7), as Boulder's VA does.

export class ValidationJob implements JobHandler {
  constructor(
    private readonly store: Store,
    private readonly validators: Map<ChallengeType, ChallengeValidator>,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** acme_validations_total{type,result} moves once per validation that ran. */
    private readonly metrics?: Metrics,
    /** CAA, when configured (`caa:`); off when absent. */
    private readonly caa?: CaaWiring,
    /** order.failed for each order a failed challenge ends (audit trail and webhooks). */
    private readonly events?: OpsEventSink,
  ) {}

  async run(job: Job): Promise<void> {
    const found = await this.store.challenges.get(job.subjectId);
    if (!found || found.challenge.status !== 'processing') {
      await this.store.jobs.finish(job.id, 'done', 'challenge no longer processing', this.clock.nowMs());
      return;
    }
    const account = await this.store.accounts.get(found.authz.accountId);
    const validator = this.validators.get(found.challenge.type);
    if (!account || !validator) {
      await this.record(job.subjectId, new AcmeProblem('serverInternal', `no validator for ${found.challenge.type}`), null);
      return;
    }
    const keyAuthorization = `${found.challenge.token}.${account.thumbprint}`; // RFC 8555 §8.1
    let outcome = await validator.validate({
      identifier: found.authz.identifier,
      token: found.challenge.token,
      keyAuthorization,
    });
    if (outcome.valid) outcome = await this.checkCaa(outcome, found.authz, found.challenge.type, account);
    // The order id on the validation's lines too, so one grep follows an order through its life.
    const orderIds = await this.store.reports.ordersOfAuthorization(found.authz.id).catch(() => [] as string[]);
    const log = this.logger.child({ challengeId: job.subjectId, authzId: found.authz.id, type: found.challenge.type, ...(orderIds.length === 1 ? { orderId: orderIds[0] } : { orderIds }) });
    this.metrics?.validations.inc({ type: found.challenge.type, result: outcome.valid ? 'valid' : 'invalid' });
    if (outcome.valid) log.info({ record: outcome.record }, 'challenge valid');
    else log.info({ record: outcome.record, problem: outcome.problem.toDocument() }, 'challenge invalid');
    // A failure the client could have avoided counts against failedValidationsPerIdentifier (RFC
    // 8555 §6.6), in the same write that records it; the gateway's own failures (giveUp) do not.
    const countFailure = { subject: failedValidationSubject(account.id, found.authz.identifier), windowMs: FAILED_VALIDATION_WINDOW_MS };
    const now = this.clock.now();
    const recorded = await this.record(job.subjectId, outcome.valid ? null : outcome.problem, outcome.record, countFailure, now);
    if (recorded && !outcome.valid) await this.ordersFailed(found.authz.id, found.authz.identifier.value, outcome.problem, now);
  }

  /** The orders the failed authorization ended (store.challenges.recordValidation moved them to invalid). */
  private async ordersFailed(authzId: string, name: string, problem: AcmeProblem, now: Date): Promise<void> {
    try {
      for (const orderId of await this.store.reports.ordersOfAuthorization(authzId)) {
        const order = await this.store.orders.get(orderId);
        // Only the orders this write ended: one that another authorization ended earlier is not counted twice.
        if (order?.status !== 'invalid' || order.updatedAt.getTime() !== now.getTime()) continue;
        this.metrics?.orders.inc({ event: 'invalid' });
        await this.events?.record({
          action: 'order.failed',
          notify: 'order.failed',
          directory: order.directory,
          accountId: order.accountId,
          orderId: order.id,
          detail: { names: order.identifiers.map((i) => i.value), failedName: name, problem: order.error ?? problem.toDocument() },
        });
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, authzId }, 'could not report the orders a failed validation ended');
    }
  }

  /** The challenge proved control; CAA may still forbid this CA (RFC 8659 §3). */
  private async checkCaa(
    outcome: ValidationOutcome,
    authz: { identifier: { type: 'dns' | 'ip'; value: string }; wildcard: boolean; directory: string },
    method: ChallengeType,
    account: Account,
  ): Promise<ValidationOutcome> {
    const policy = this.caa?.policyFor(authz.directory);
    if (!this.caa || !policy) return outcome;
    const caa = await this.caa.checker.check({ identifier: authz.identifier, wildcard: authz.wildcard, accountUri: this.caa.accountUrl(account), method }, policy);
    return caa.allowed ? outcome : { valid: false, problem: caa.problem, record: outcome.record };
  }

  async giveUp(job: Job, error: unknown): Promise<void> {
    this.logger.error({ err: error, challengeId: job.subjectId }, 'validation job gave up');
    await this.record(job.subjectId, new AcmeProblem('serverInternal', 'the validation could not be completed; try a new order'), null);
  }

  private async record(challengeId: string, problem: AcmeProblem | null, record: unknown, countFailure: ValidationResult['countFailure'] = null, now: Date = this.clock.now()): Promise<boolean> {
    return this.store.challenges.recordValidation({
      challengeId,
      valid: problem === null,
      error: problem?.toDocument() ?? null,
      record,
      now,
      countFailure,
    });
  }
}
