// RFC 8555 §6.7 error types, with the HTTP status each is answered with and a safe default detail.
// Deep code throws AcmeProblem (or a typed internal error that the HTTP layer translates); anything
// else becomes serverInternal with a generic detail, the cause going to the log only.

export const ACME_ERROR_PREFIX = 'urn:ietf:params:acme:error:';

export const PROBLEM_CATALOGUE = {
  accountDoesNotExist: { status: 400, detail: 'No account exists with the provided key' },
  alreadyReplaced: { status: 409, detail: 'The certificate has already been replaced' },
  alreadyRevoked: { status: 400, detail: 'The certificate has already been revoked' },
  badCSR: { status: 400, detail: 'The CSR is unacceptable' },
  badNonce: { status: 400, detail: 'JWS has an invalid anti-replay nonce' },
  badPublicKey: { status: 400, detail: 'The JWS was signed by a public key the server does not support' },
  badRevocationReason: { status: 400, detail: 'The revocation reason provided is not allowed by the server' },
  badSignatureAlgorithm: { status: 400, detail: 'The JWS was signed with an algorithm the server does not support' },
  caa: { status: 403, detail: 'Certification Authority Authorization (CAA) records forbid issuance' },
  compound: { status: 400, detail: 'Multiple errors occurred' },
  connection: { status: 400, detail: 'The server could not connect to the validation target' },
  dns: { status: 400, detail: 'There was a problem with a DNS query during identifier validation' },
  externalAccountRequired: { status: 400, detail: 'The request must include a value for the externalAccountBinding field' },
  incorrectResponse: { status: 400, detail: 'Response received did not match the challenge requirements' },
  invalidContact: { status: 400, detail: 'A contact URL for an account was invalid' },
  invalidProfile: { status: 400, detail: 'The requested profile is not offered by this server' },
  malformed: { status: 400, detail: 'The request message was malformed' },
  orderNotReady: { status: 403, detail: 'The request attempted to finalize an order that is not ready to be finalized' },
  rateLimited: { status: 429, detail: 'The request exceeds a rate limit' },
  rejectedIdentifier: { status: 400, detail: 'The server will not issue certificates for the identifier' },
  serverInternal: { status: 500, detail: 'The server experienced an internal error' },
  tls: { status: 400, detail: 'The server received a TLS error during validation' },
  unauthorized: { status: 403, detail: 'The client lacks sufficient authorization' },
  unsupportedContact: { status: 400, detail: 'A contact URL for an account used an unsupported protocol scheme' },
  unsupportedIdentifier: { status: 400, detail: 'An identifier is of an unsupported type' },
  userActionRequired: { status: 403, detail: 'Visit the "instance" URL and take actions specified there' },
} as const;

export type AcmeErrorType = keyof typeof PROBLEM_CATALOGUE;

export interface ProblemIdentifier {
  type: string;
  value: string;
}

/** The wire form of an RFC 7807 problem document as ACME uses it. */
export interface ProblemDocument {
  type: string;
  detail: string;
  status: number;
  identifier?: ProblemIdentifier;
  subproblems?: ProblemDocument[];
  algorithms?: string[];
}

export interface ProblemOptions {
  status?: number;
  identifier?: ProblemIdentifier;
  subproblems?: AcmeProblem[];
  /** RFC 8555 §6.2: badSignatureAlgorithm lists what the server accepts. */
  algorithms?: string[];
  /** Extra response headers, e.g. Location for a 409 on key change or Retry-After on rateLimited. */
  headers?: Record<string, string>;
}

export class AcmeProblem extends Error {
  readonly type: AcmeErrorType;
  readonly status: number;
  readonly identifier?: ProblemIdentifier;
  readonly subproblems?: AcmeProblem[];
  readonly algorithms?: string[];
  readonly headers?: Record<string, string>;

  constructor(type: AcmeErrorType, detail?: string, options: ProblemOptions = {}) {
    super(detail ?? PROBLEM_CATALOGUE[type].detail);
    this.name = 'AcmeProblem';
    this.type = type;
    this.status = options.status ?? PROBLEM_CATALOGUE[type].status;
    this.identifier = options.identifier;
    this.subproblems = options.subproblems;
    this.algorithms = options.algorithms;
    this.headers = options.headers;
  }

  get detail(): string {
    return this.message;
  }

  toDocument(): ProblemDocument {
    const doc: ProblemDocument = { type: ACME_ERROR_PREFIX + this.type, detail: this.message, status: this.status };
    if (this.identifier) doc.identifier = this.identifier;
    if (this.subproblems?.length) doc.subproblems = this.subproblems.map((p) => p.toDocument());
    if (this.algorithms) doc.algorithms = this.algorithms;
    return doc;
  }

  static fromDocument(doc: ProblemDocument): AcmeProblem {
    const short = doc.type.startsWith(ACME_ERROR_PREFIX) ? doc.type.slice(ACME_ERROR_PREFIX.length) : 'serverInternal';
    const type = (short in PROBLEM_CATALOGUE ? short : 'serverInternal') as AcmeErrorType;
    return new AcmeProblem(type, doc.detail, {
      status: doc.status,
      identifier: doc.identifier,
      subproblems: doc.subproblems?.map((s) => AcmeProblem.fromDocument(s)),
    });
  }
}
