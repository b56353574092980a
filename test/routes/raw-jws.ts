import { KeyObject, sign } from 'node:crypto';
import { b64u, type AccountKey, type FlattenedJwsBody } from '../harness.js';

// A JWS over exact protected-header and payload *text* (duplicate members, odd spacing, bytes that
// are not UTF-8), signed with a real account key so that what is wrong with it reaches the layers
// after the signature check. jose builds headers from objects and so cannot say any of this.

/** Signs `protectedText.payloadText` (both sent base64url-encoded as they are) with an ES256 or RS256 key. */
export function rawJws(key: AccountKey, protectedText: string | Uint8Array, payloadText: string | Uint8Array): FlattenedJwsBody {
  const protectedB64 = b64u(protectedText);
  const payloadB64 = payloadText === '' ? '' : b64u(payloadText);
  const input = Buffer.from(`${protectedB64}.${payloadB64}`);
  const nodeKey = KeyObject.from(key.privateKey);
  const signature = key.alg === 'ES256' ? sign('sha256', input, { key: nodeKey, dsaEncoding: 'ieee-p1363' }) : sign('sha256', input, nodeKey);
  return { protected: protectedB64, payload: payloadB64, signature: signature.toString('base64url') };
}

/** A flattened JWS as JSON text, members in the order given, with a duplicate or spacing if asked. */
export const jwsText = (jws: FlattenedJwsBody, opts: { order?: Array<keyof FlattenedJwsBody>; space?: string; extra?: string } = {}): string => {
  const sp = opts.space ?? '';
  const members = (opts.order ?? ['protected', 'payload', 'signature']).map((k) => `${sp}${JSON.stringify(k)}${sp}:${sp}${JSON.stringify(jws[k])}`);
  return `{${members.join(',')}${opts.extra ?? ''}${sp}}`;
};
