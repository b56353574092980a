import { AcmeProblem } from '../acme/problems.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { Job, Store } from '../store/types.js';
import type { ChallengeType, ChallengeValidator } from '../validation/types.js';
import type { JobHandler } from './runner.js';

// The validation job: run the checker for the challenge's type and record the outcome in one write
// (challenge, authorization and orders together, RFC 8555 §7.5.1 and interop item 29).

export class ValidationJob implements JobHandler {
  constructor(
    private readonly store: Store,
    private readonly validators: Map<ChallengeType, ChallengeValidator>,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** acme_validations_total{type,result} moves once per validation that ran. */
    private readonly metrics?: Metrics,
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
    const outcome = await validator.validate({
      identifier: found.authz.identifier,
      token: found.challenge.token,
      keyAuthorization,
    });
    const log = this.logger.child({ challengeId: job.subjectId, authzId: found.authz.id, type: found.challenge.type });
    this.metrics?.validations.inc({ type: found.challenge.type, result: outcome.valid ? 'valid' : 'invalid' });
    if (outcome.valid) log.info({ record: outcome.record }, 'challenge valid');
    else log.info({ record: outcome.record, problem: outcome.problem.toDocument() }, 'challenge invalid');
    await this.record(job.subjectId, outcome.valid ? null : outcome.problem, outcome.record);
  }

  async giveUp(job: Job, error: unknown): Promise<void> {
    this.logger.error({ err: error, challengeId: job.subjectId }, 'validation job gave up');
    await this.record(job.subjectId, new AcmeProblem('serverInternal', 'the validation could not be completed; try a new order'), null);
  }

  private async record(challengeId: string, problem: AcmeProblem | null, record: unknown): Promise<void> {
    await this.store.challenges.recordValidation({
      challengeId,
      valid: problem === null,
      error: problem?.toDocument() ?? null,
      record,
      now: this.clock.now(),
    });
  }
}
