import { AcmeProblem } from '../acme/problems.js';
import type { Linker } from '../acme/links.js';
import type { Store } from '../store/types.js';
import {
  checkAlgorithm,
  checkKeyReference,
  checkNoncePresent,
  checkUrl,
  decodePayload,
  decodeProtectedHeader,
  jwkThumbprint,
  parseFlattenedJws,
  publicJwk,
  publicKeyFromJwk,
  verifySignature,
  type VerifiedRequest,
} from './jws.js';
import type { KeyCache } from './key-cache.js';
import type { NonceService } from './nonces.js';

export type SignerMode = 'jwk' | 'kid' | 'either';

export interface VerifyOptions {
  /** Who must have signed: newAccount wants jwk, revokeCert takes either, everything else kid. */
  signer: SignerMode;
  /** The absolute URL the request was sent to, built from the external base URL. */
  requestUrl: string;
  directory: string;
  /** Let a deactivated account through (never; kept explicit for readability of the call sites). */
  allowInactiveAccount?: boolean;
}

/**
 * Runs the named JWS steps in order for one request. The nonce is redeemed only after the
 * signature verified, so a forged request cannot burn a client's nonce.
 */
export class RequestVerifier {
  constructor(
    private readonly store: Store,
    private readonly nonces: NonceService,
    private readonly linker: Linker,
    private readonly keys: KeyCache,
  ) {}

  async verify(body: unknown, options: VerifyOptions): Promise<VerifiedRequest> {
    const jws = parseFlattenedJws(body);
    const header = decodeProtectedHeader(jws);
    checkAlgorithm(header);
    const mode = checkKeyReference(header, options.signer);
    const nonce = checkNoncePresent(header);
    checkUrl(header, options.requestUrl);

    let account = null;
    let jwk = null;
    let thumbprint: string | null = null;
    let key;
    if (mode === 'kid') {
      const accountId = this.linker.idFrom('account', header.kid as string, options.directory);
      account = accountId ? await this.store.accounts.get(accountId) : null;
      if (!account || account.directory !== options.directory) {
        // interop item 15: certmagic registers again on exactly this answer.
        throw new AcmeProblem('accountDoesNotExist', 'no account exists with the "kid" of this request');
      }
      key = this.keys.get(account.id, account.thumbprint);
      if (!key) {
        key = publicKeyFromJwk(account.jwk);
        this.keys.set(account.id, account.thumbprint, key);
      }
    } else {
      key = publicKeyFromJwk(header.jwk);
      jwk = publicJwk(header.jwk!);
      thumbprint = await jwkThumbprint(jwk);
    }

    await verifySignature(jws, key);
    if (!(await this.nonces.redeem(nonce))) {
      throw new AcmeProblem('badNonce', 'JWS has an invalid anti-replay nonce: it is unknown, expired or already used');
    }
    if (account && account.status !== 'valid' && !options.allowInactiveAccount) {
      // RFC 8555 §7.3.6: requests signed by a deactivated account get 401 unauthorized.
      throw new AcmeProblem('unauthorized', `the account is ${account.status}`, { status: 401 });
    }
    const payload = decodePayload(jws);
    return { header, jws, payload, account, jwk, jwkThumbprint: thumbprint };
  }
}
