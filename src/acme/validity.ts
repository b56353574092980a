import { AcmeProblem } from './problems.js';

// Validity of issued certificates, as pure policy: plain settings in, a decision or a problem out.
// The PCA takes only a `period` in whole days counted from the signing time (ncp-pca-api §3.1,
// §4.2), so a requested notAfter is mapped to a period, and a notBefore can only be "now". Step CLI
// sends zero times for "unset" (interop item 20).

const DAY_MS = 86_400_000;
const ZERO_TIME = /^0001-01-01T00:00:00(\.0+)?Z$/;
/** A notBefore this close to now is accepted: clients set it to "now" with their own clock. */
const NOT_BEFORE_SLACK_MS = 5 * 60_000;

export interface ValidityRequest {
  notBefore?: string;
  notAfter?: string;
  profile?: string;
}

export interface ResolvedValidity {
  notBefore: Date | null;
  notAfter: Date | null;
  profile: string | null;
}

/** What the policy needs of the configuration; deps.ts builds it (acme/ imports nothing of ours). */
export interface ValiditySettings {
  /** Longest validity in days when the order names no profile or its profile sets no period. */
  defaultPeriodDays: number;
  /** The offered profiles (draft-ietf-acme-profiles) by name, each with its own longest period. */
  profiles: Readonly<Record<string, { period?: number | undefined }>>;
  /** The profile an order without one gets; none when unset. */
  defaultProfile?: string | undefined;
}

export class ValidityPolicy {
  constructor(private readonly settings: ValiditySettings) {}

  /**
   * Checks newOrder's notBefore / notAfter / profile against policy (RFC 8555 §7.4,
   * draft-ietf-acme-profiles). `cap` is the issuance policy's maxValidityDays (issue 9) with the rule
   * that sets it; when it is the tighter limit, a later notAfter is refused naming that rule.
   */
  resolve(req: ValidityRequest, now: Date, cap: { days: number; rule: string } | null = null): ResolvedValidity {
    const profile = this.profileName(req.profile);
    const ownMax = this.maxPeriodDays(profile);
    const maxDays = cap && cap.days < ownMax ? cap.days : ownMax;
    const notBefore = parseTime(req.notBefore, 'notBefore');
    const notAfter = parseTime(req.notAfter, 'notAfter');
    if (notBefore && Math.abs(notBefore.getTime() - now.getTime()) > NOT_BEFORE_SLACK_MS && notBefore > now) {
      throw new AcmeProblem('malformed', 'notBefore must not be in the future: the Private CA issues certificates valid from the time of signing');
    }
    if (notAfter) {
      if (notAfter.getTime() <= now.getTime() + 60_000) throw new AcmeProblem('malformed', 'notAfter must be in the future');
      if (notBefore && notAfter <= notBefore) throw new AcmeProblem('malformed', 'notAfter must be after notBefore');
      const days = Math.ceil((notAfter.getTime() - now.getTime()) / DAY_MS);
      if (days > maxDays) {
        const why = maxDays < ownMax ? ` (${cap!.rule})` : profile ? ` (profile ${profile})` : '';
        throw new AcmeProblem('malformed', `notAfter is ${days} days away; this server issues for at most ${maxDays} days${why}`);
      }
    }
    return { notBefore, notAfter, profile };
  }

  /** The `period` (days) to send to the PCA for an order, counted from now, never above `capDays` (the policy's maxValidityDays). */
  periodFor(order: { notAfter: Date | null; profile: string | null }, now: Date, capDays: number | null = null): number {
    const max = capDays === null ? this.maxPeriodDays(order.profile) : Math.min(capDays, this.maxPeriodDays(order.profile));
    if (!order.notAfter) return max;
    const days = Math.ceil((order.notAfter.getTime() - now.getTime()) / DAY_MS);
    return Math.min(Math.max(days, 1), max);
  }

  private maxPeriodDays(profile: string | null): number {
    return (profile && this.settings.profiles[profile]?.period) || this.settings.defaultPeriodDays;
  }

  private profileName(requested: string | undefined): string | null {
    const profiles = this.settings.profiles;
    if (requested === undefined) return this.settings.defaultProfile ?? null;
    // Own keys only: `in` would offer "toString" and the other Object.prototype names.
    if (!Object.hasOwn(profiles, requested)) {
      const names = Object.keys(profiles);
      throw new AcmeProblem('invalidProfile', `profile "${requested}" is not offered${names.length ? ` (offered: ${names.join(', ')})` : ''}`);
    }
    return requested;
  }
}

function parseTime(value: string | undefined, name: string): Date | null {
  if (value === undefined || value === '' || ZERO_TIME.test(value)) return null;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    throw new AcmeProblem('malformed', `${name} must be an RFC 3339 date-time`);
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new AcmeProblem('malformed', `${name} is not a valid date-time`);
  return d;
}
