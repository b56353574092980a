import { AcmeProblem } from '../acme/problems.js';
import type { Account } from '../acme/types.js';
import {
  checkAlgorithm,
  checkKeyReference,
  decodePayload,
  decodeProtectedHeader,
  embeddedKey,
  jwkThumbprint,
  parseFlattenedJws,
  verifySignature,
  type ProtectedHeader,
} from './jws.js';
import type { SigningKey } from './requests.js';

// Account key rollover (RFC 8555 §7.3.5): the outer JWS, signed by the account (kid), was verified by
// the account entry point; its payload is an inner JWS signed by the new key (jwk) whose payload
// names the account and its old key. The inner JWS goes through the same named steps as the outer
// one (auth/jws.ts), except the nonce: none is required (interop item 39).

export interface RolloverUrls {
  /** The keyChange URL: the only "url" the inner JWS may carry. */
  keyChange: string;
  /** The signing account's URL: what the inner payload's "account" must say. */
  account: string;
}

/** Verifies the inner JWS of a key change for `account` and returns the new key. */
export async function verifyKeyRollover(outerPayload: unknown, account: Account, urls: RolloverUrls): Promise<SigningKey> {
  const inner = parseFlattenedJws(outerPayload);
  const header = decodeProtectedHeader(inner);
  checkAlgorithm(header);
  // RFC 8555 §7.3.5: the inner JWS carries the new key as "jwk" (and so no "kid").
  const ref = checkKeyReference(header, 'jwk');
  checkInnerUrl(header, urls.keyChange);
  const newKey = await embeddedKey(ref.jwk);
  await verifySignature(inner, newKey.key);
  const payload = decodePayload(inner);
  if (!payload) throw new AcmeProblem('malformed', 'the inner JWS payload must name the account and its old key');
  if (payload.account !== urls.account) throw new AcmeProblem('malformed', 'the inner payload "account" is not the signing account');
  await checkOldKey(payload.oldKey, account);
  if (newKey.thumbprint === account.thumbprint) throw new AcmeProblem('malformed', 'the new key is the same as the old one');
  return { jwk: newKey.jwk, thumbprint: newKey.thumbprint };
}

/**
 * The inner "url" is the keyChange URL (RFC 8555 §7.3.5: the same as the outer one, which was checked
 * against the request URL). A mismatch here is malformed, not unauthorized: the account did sign.
 */
function checkInnerUrl(header: ProtectedHeader, keyChangeUrl: string): void {
  if (header.url !== keyChangeUrl) throw new AcmeProblem('malformed', 'the inner JWS "url" must be the keyChange URL');
}

/** "oldKey" is the account's current key (RFC 8555 §7.3.5), compared by thumbprint. */
async function checkOldKey(oldKey: unknown, account: Account): Promise<void> {
  if (oldKey === null || typeof oldKey !== 'object') throw new AcmeProblem('malformed', 'the inner payload has no "oldKey"');
  let thumbprint: string;
  try {
    thumbprint = await jwkThumbprint(oldKey as never);
  } catch {
    throw new AcmeProblem('malformed', 'the inner payload "oldKey" is not a valid JWK');
  }
  if (thumbprint !== account.thumbprint) throw new AcmeProblem('unauthorized', '"oldKey" is not the account\'s current key');
}
