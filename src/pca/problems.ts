import { AcmeProblem, type AcmeErrorType } from '../acme/problems.js';
import { PcaError, type PcaErrorReason } from './errors.js';

// The one translator from PCA failures to ACME problems (RFC 8555 §6.7). Each reason becomes a
// problem a client (or the operator it reports to) can act on, naming the PCA's own code and message.
// Never credentials: the NCP client blanks them out of the PCA's text before it gets here.

/** What the gateway asked the PCA for: the same reason reads differently for each. */
export type PcaCall = 'issue' | 'revoke';

/** "HTTP 400, code EMPTY_CSR, "csr is missing."" — for problem details, attempt notes and logs. */
export function describePcaError(err: PcaError): string {
  const parts = [err.kind === 'http' ? `HTTP ${err.httpStatus}` : err.kind];
  if (err.code) parts.push(`code ${err.code}`);
  if (err.pcaMessage) parts.push(JSON.stringify(err.pcaMessage.slice(0, 200)));
  return parts.join(', ');
}

const CREDENTIALS = 'the operator must check pca.accessKey/secretKey and the clock';
const RETRY = '; try again';

interface Translation {
  /** Issuance (finalize, RFC 8555 §7.4, done by the issuance job); `what` is describePcaError. */
  issue: [AcmeErrorType, (what: string) => string];
  /** Revocation (RFC 8555 §7.6): appended to "the Private CA did not revoke the certificate (what)". */
  revoke: [AcmeErrorType, string];
}

const TABLE: Record<PcaErrorReason, Translation> = {
  csrRejected: { issue: ['badCSR', (w) => `the Private CA refused the CSR (${w})`], revoke: ['serverInternal', RETRY] },
  validityRejected: {
    issue: ['malformed', (w) => `the Private CA refused the requested validity (${w}); ask for a shorter notAfter`],
    revoke: ['serverInternal', RETRY],
  },
  authentication: {
    issue: ['serverInternal', (w) => `the Private CA refused the gateway's credentials (${w}); ${CREDENTIALS}`],
    revoke: ['serverInternal', `: it refused the gateway's credentials; ${CREDENTIALS}`],
  },
  unknownCa: {
    issue: ['serverInternal', (w) => `the Private CA does not know the configured CA (${w}); check pca.caTag`],
    revoke: ['serverInternal', ': it does not know the configured CA; check pca.caTag'],
  },
  certificateNotFound: {
    issue: ['serverInternal', (w) => `the Private CA does not know the configured CA or a certificate it listed (${w}); check pca.caTag`],
    revoke: ['serverInternal', ': it knows no such certificate, or not the configured CA; check pca.caTag'],
  },
  caUnusable: {
    issue: ['serverInternal', (w) => `the Private CA refused to issue (${w}): the configured CA cannot sign now (not active, or at its signing limit); the operator must check the CA`],
    revoke: ['serverInternal', ': the configured CA cannot act now (not active); the operator must check the CA'],
  },
  unavailable: { issue: ['serverInternal', (w) => `the Private CA did not issue in time (${w}); try again later`], revoke: ['serverInternal', RETRY] },
  badResponse: {
    issue: ['serverInternal', (w) => `the Private CA did not issue in time: its answer could not be used (${w}); try again later`],
    revoke: ['serverInternal', RETRY],
  },
  badRequest: {
    issue: ['serverInternal', (w) => `the Private CA refused to issue (${w}): the gateway's request was invalid; see the gateway log`],
    revoke: ['serverInternal', RETRY],
  },
  // The revocation service counts a certificate the PCA already revoked as revoked; it never sends this.
  alreadyRevoked: { issue: ['serverInternal', (w) => `the Private CA refused to issue (${w})`], revoke: ['alreadyRevoked', ': it has already revoked it'] },
  refused: { issue: ['serverInternal', (w) => `the Private CA refused to issue (${w})`], revoke: ['serverInternal', RETRY] },
};

/** The problem for a failed PCA call; anything that is not a PcaError gets a generic detail (the cause goes to the log). */
export function problemFromPcaError(err: unknown, call: PcaCall = 'issue'): AcmeProblem {
  const pca = err instanceof PcaError ? err : undefined;
  if (call === 'revoke') {
    const [type, hint] = pca ? TABLE[pca.reason].revoke : (['serverInternal', RETRY] as const);
    return new AcmeProblem(type, `the Private CA did not revoke the certificate (${pca ? describePcaError(pca) : 'error'})${hint}`);
  }
  if (!pca) return new AcmeProblem('serverInternal', 'issuance failed unexpectedly; see the gateway log');
  const [type, detail] = TABLE[pca.reason].issue;
  return new AcmeProblem(type, detail(describePcaError(pca)));
}
