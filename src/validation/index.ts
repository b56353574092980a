// The validation authority's checkers (RFC 8555 §8), as deps.ts builds them; the jobs use only the types.
export type { ChallengeType, ChallengeValidator, ValidationIdentifier, ValidationOutcome, ValidationRecord, ValidationRequest } from './types.js';
export { keyAuthorizationDigest, keyAuthorizationSha256 } from './key-authorization.js';
export { createHttp01Validator, type Http01ValidatorOptions } from './http01.js';
export { createDns01Validator, type Dns01ValidatorOptions } from './dns01.js';
export { createTlsAlpn01Validator, ACME_TLS_ALPN_PROTOCOL, type TlsAlpn01ValidatorOptions } from './tls-alpn01.js';
export { acmeTlsCertificateProblem, ACME_IDENTIFIER_OID } from './acme-tls-certificate.js';
export { reverseDnsName } from './ip.js';
export { createCaaChecker, type CaaChecker, type CaaCheckerOptions, type CaaOutcome, type CaaRequest, type CaaSettings } from './caa.js';
export type { AddressCheck } from './address-guard.js';
