import { ACME_ERROR_PREFIX, type ProblemDocument } from '../acme/problems.js';

// A failed order's problem in words an on-call engineer can act on (the console and `orders show`):
// what went wrong, and where to look, keyed by the ACME error type; the detail follows as it is.

const WORDS: Record<string, string> = {
  incorrectResponse: 'The validation reached the client’s server but got the wrong answer: the challenge file or record does not hold the key authorization (a stale file, another server answering, a proxy rewriting the response).',
  connection: 'The gateway could not connect to the name being validated: nothing listened on the validation port, a firewall dropped it, or the address policy refused the address.',
  dns: 'A DNS lookup for the name failed (no such name, no TXT record yet, or the resolver timed out).',
  tls: 'The TLS handshake of a tls-alpn-01 validation failed (no acme-tls/1 certificate offered on port 443).',
  caa: 'The name’s CAA records do not allow this CA (caa.issuerDomains), or name another account or validation method.',
  badCSR: 'The CSR was refused: its names differ from the order’s, its key type or size is not allowed, or it uses the account key.',
  rejectedIdentifier: 'The gateway will not issue for this name: the directory’s policy refuses it.',
  serverInternal: 'The gateway or the Private CA failed: usually the PCA did not answer or refused the request; see the PCA calls above.',
  unauthorized: 'The client was not authorized for this (another account’s resource, a deactivated account, or an authorization deactivated).',
  malformed: 'The client sent a request the gateway could not accept.',
  rateLimited: 'A rate limit refused the request.',
  orderNotReady: 'The client finalized before every authorization was valid.',
  invalidProfile: 'The client asked for a profile this directory does not offer.',
  unsupportedIdentifier: 'The client asked for an identifier type the gateway does not issue for.',
  externalAccountRequired: 'The directory requires External Account Binding: the client needs an EAB key (acme-pca-gateway eab create).',
};

/** "The validation reached … — detail (type)". */
export function problemInWords(problem: ProblemDocument | null | undefined): string {
  if (!problem) return '';
  const type = problem.type.startsWith(ACME_ERROR_PREFIX) ? problem.type.slice(ACME_ERROR_PREFIX.length) : problem.type;
  const sub = problem.subproblems?.length ? ` (${problem.subproblems.map((s) => `${s.identifier?.value ?? '?'}: ${s.detail ?? ''}`).join('; ')})` : '';
  const words = WORDS[type];
  return words ? `${words} Detail: ${problem.detail ?? ''}${sub}` : `${problem.detail ?? type}${sub}`;
}
