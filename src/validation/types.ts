import type { AcmeProblem } from '../acme/problems.js';

// The contract between the validation jobs and the challenge checkers (RFC 8555 §8). Checkers are
// stateless: they look at the world and return an outcome; the job records it.

export type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01';

/** dns: lower-case, without a "*." prefix; ip: as a string (RFC 8738: v4 dotted, v6 any valid form). */
export interface ValidationIdentifier {
  type: 'dns' | 'ip';
  value: string;
}

export interface ValidationRequest {
  identifier: ValidationIdentifier;
  token: string;
  /** RFC 8555 §8.1: token || '.' || base64url(JWK thumbprint). */
  keyAuthorization: string;
  /** Aborting settles the validation promptly with a `connection` problem. */
  signal?: AbortSignal;
}

/** What was looked at, in the spirit of Boulder's validationRecord; saved with the challenge. */
export interface ValidationRecord {
  url?: string;
  hostname?: string;
  port?: number;
  addressesResolved?: string[];
  addressUsed?: string;
  resolvers?: string[];
}

export type ValidationOutcome =
  | { valid: true; record: ValidationRecord }
  | { valid: false; problem: AcmeProblem; record: ValidationRecord };

export interface ChallengeValidator {
  readonly type: ChallengeType;
  /** Never rejects: every failure, timeouts and aborts included, is an outcome with a problem. */
  validate(req: ValidationRequest): Promise<ValidationOutcome>;
}
