import { AcmeProblem, type AcmeErrorType } from '../acme/problems.js';
import { DnsError } from '../platform/dns.js';
import type { Logger } from '../platform/logger.js';
import type { ChallengeType, ChallengeValidator, ValidationIdentifier, ValidationOutcome, ValidationRecord, ValidationRequest } from './types.js';

// Shared plumbing for the checkers: building outcomes, the whole-validation deadline, and turning a
// failed address lookup into the right problem.

export function failure(type: AcmeErrorType, detail: string, identifier: ValidationIdentifier, record: ValidationRecord): ValidationOutcome {
  return { valid: false, problem: new AcmeProblem(type, detail, { identifier: { type: identifier.type, value: identifier.value } }), record };
}

export function success(record: ValidationRecord): ValidationOutcome {
  return { valid: true, record };
}

/** Quote untrusted text for a problem detail: escaped, and cut to `max` characters. */
export function quoteForDetail(text: string, max = 128): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  return JSON.stringify(cut) + (text.length > max ? ` (truncated, ${text.length} characters in all)` : '');
}

/**
 * One timer for the whole validation plus the caller's signal, merged into one AbortSignal, remembering
 * which of the two fired so the detail can say "timed out" rather than "cancelled".
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private firstCause: 'timeout' | 'cancelled' | undefined;

  constructor(
    readonly timeoutMs: number,
    private readonly parent?: AbortSignal,
  ) {
    this.timer = setTimeout(() => this.fire('timeout'), timeoutMs);
    if (parent?.aborted) this.fire('cancelled');
    else parent?.addEventListener('abort', this.onParentAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get cause(): 'timeout' | 'cancelled' | undefined {
    return this.firstCause;
  }

  /** Rejects as soon as the deadline fires, for awaited work (a fake resolver) that ignores signals. */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.signal.aborted) return Promise.reject(new DeadlineError());
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new DeadlineError());
      this.signal.addEventListener('abort', onAbort, { once: true });
      work.then(
        (v) => {
          this.signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          this.signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.parent?.removeEventListener('abort', this.onParentAbort);
  }

  private readonly onParentAbort = () => this.fire('cancelled');

  private fire(cause: 'timeout' | 'cancelled'): void {
    this.firstCause ??= cause;
    this.controller.abort();
  }
}

export class DeadlineError extends Error {
  constructor() {
    super('deadline reached');
    this.name = 'DeadlineError';
  }
}

/** What the checker says when its deadline or the caller stopped it while `activity` was in progress. */
export function interruptedFailure(deadline: Deadline, activity: string, identifier: ValidationIdentifier, record: ValidationRecord): ValidationOutcome {
  const detail =
    deadline.cause === 'cancelled'
      ? `Validation was cancelled while ${activity}`
      : `Timeout after ${deadline.timeoutMs} ms while ${activity}`;
  return failure('connection', detail, identifier, record);
}

/**
 * A failed A/AAAA lookup of a validation target. RFC 8555 §8: DNS failures are `dns` problems; a
 * deadline reached during the lookup is still a DNS timeout, while a cancel is not the DNS's fault.
 */
export function addressLookupFailure(
  err: unknown,
  hostname: string,
  deadline: Deadline,
  identifier: ValidationIdentifier,
  record: ValidationRecord,
): ValidationOutcome {
  if (deadline.cause === 'cancelled') return interruptedFailure(deadline, `resolving ${hostname}`, identifier, record);
  if (deadline.cause === 'timeout') return failure('dns', `DNS problem: timeout after ${deadline.timeoutMs} ms looking up A/AAAA for ${hostname}`, identifier, record);
  if (err instanceof DnsError) {
    const hint = err.kind === 'nxdomain' || err.kind === 'nodata' ? ' - check that a DNS record exists for this name' : '';
    return failure('dns', `DNS problem: ${dnsKindText(err)} looking up A/AAAA for ${hostname}${hint}`, identifier, record);
  }
  return failure('dns', `DNS problem: looking up A/AAAA for ${hostname} failed: ${errorText(err)}`, identifier, record);
}

export function dnsKindText(err: DnsError): string {
  switch (err.kind) {
    case 'nxdomain':
      return 'NXDOMAIN';
    case 'nodata':
      return 'no records found';
    case 'servfail':
      return `SERVFAIL${err.code && err.code !== 'ESERVFAIL' ? ` (${err.code})` : ''}`;
    case 'refused':
      return 'query refused or resolver unreachable';
    case 'timeout':
      return 'query timed out';
    case 'aborted':
      return 'query aborted';
    case 'other':
      return `lookup error${err.code ? ` (${err.code})` : ''}`;
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The ChallengeValidator around a checker's `run`: one Deadline per validation (the total budget of
 * RFC 8555 §8 lookups, connections and redirects), and the promise "checkers never reject" kept even
 * when `run` has a bug: every throw becomes an outcome with a problem (types.ts).
 */
export function deadlineBoundValidator(
  type: ChallengeType,
  timeoutMs: number,
  logger: Logger | undefined,
  run: (req: ValidationRequest, deadline: Deadline) => Promise<ValidationOutcome>,
): ChallengeValidator {
  return {
    type,
    async validate(req) {
      const deadline = new Deadline(timeoutMs, req.signal);
      try {
        return await run(req, deadline);
      } catch (err) {
        logger?.error({ err, identifier: req.identifier }, `${type} validation failed unexpectedly`);
        if (err instanceof DeadlineError) return interruptedFailure(deadline, `validating ${type}`, req.identifier, {});
        return failure('serverInternal', `The ${type} validation could not be completed`, req.identifier, {});
      } finally {
        deadline.dispose();
      }
    },
  };
}
