import { AcmeProblem } from '../acme/problems.js';
import type { Account } from '../acme/types.js';
import {
  checkAlgorithm,
  decodePayload,
  decodeProtectedHeader,
  jwkThumbprint,
  parseFlattenedJws,
  publicJwk,
  publicKeyFromJwk,
  verifySignature,
  type VerifiedRequest,
} from '../auth/jws.js';
import type { Linker } from '../acme/links.js';
import type { ServiceContext } from './context.js';

// Account key rollover (RFC 8555 §7.3.5): the outer JWS is signed by the account (kid), its payload is
// an inner JWS signed by the new key (jwk) whose payload names the account and its old key.

export class KeyChangeService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly linker: Linker,
  ) {}

  async change(outer: VerifiedRequest, keyChangeUrl: string): Promise<Account> {
    const account = outer.account!;
    const inner = parseFlattenedJws(outer.payload);
    const header = decodeProtectedHeader(inner);
    checkAlgorithm(header);
    if (header.jwk === undefined || header.kid !== undefined) {
      throw new AcmeProblem('malformed', 'the inner JWS of a key change must carry "jwk" and no "kid"');
    }
    if (header.url !== keyChangeUrl) throw new AcmeProblem('malformed', 'the inner JWS "url" must be the keyChange URL');
    // No inner nonce is required (interop item 39).
    const key = publicKeyFromJwk(header.jwk);
    await verifySignature(inner, key);
    const payload = decodePayload(inner);
    if (!payload) throw new AcmeProblem('malformed', 'the inner JWS payload must name the account and its old key');
    if (payload.account !== this.linker.url('account', account.directory, account.id)) {
      throw new AcmeProblem('malformed', 'the inner payload "account" is not the signing account');
    }
    if (payload.oldKey === null || typeof payload.oldKey !== 'object') throw new AcmeProblem('malformed', 'the inner payload has no "oldKey"');
    let oldThumb: string;
    try {
      oldThumb = await jwkThumbprint(payload.oldKey as never);
    } catch {
      throw new AcmeProblem('malformed', 'the inner payload "oldKey" is not a valid JWK');
    }
    if (oldThumb !== account.thumbprint) throw new AcmeProblem('unauthorized', '"oldKey" is not the account\'s current key');
    const jwk = publicJwk(header.jwk);
    const thumbprint = await jwkThumbprint(jwk);
    if (thumbprint === account.thumbprint) throw new AcmeProblem('malformed', 'the new key is the same as the old one');
    const result = await this.ctx.store.accounts.changeKey(account.id, account.thumbprint, jwk, thumbprint, this.ctx.clock.now());
    if (result.ok) {
      this.ctx.logger.info({ accountId: account.id }, 'account key changed');
      return result.account;
    }
    if (result.reason === 'conflict') {
      throw new AcmeProblem('malformed', 'the new key is already in use by another account', {
        status: 409,
        headers: { Location: this.linker.url('account', account.directory, result.conflictingAccountId) },
      });
    }
    throw new AcmeProblem('unauthorized', 'the account changed while its key was being rolled over');
  }
}
