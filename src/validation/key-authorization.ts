import { createHash } from 'node:crypto';

/** RFC 8555 §8.4: the dns-01 TXT value is base64url(SHA-256(keyAuthorization)), unpadded. */
export function keyAuthorizationDigest(keyAuthorization: string): string {
  return createHash('sha256').update(keyAuthorization, 'utf8').digest('base64url');
}

/** RFC 8737 §3: the acmeIdentifier extension carries the raw SHA-256 of the key authorization. */
export function keyAuthorizationSha256(keyAuthorization: string): Buffer {
  return createHash('sha256').update(keyAuthorization, 'utf8').digest();
}
