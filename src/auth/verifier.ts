import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { Linker } from '../acme/links.js';
import { AcmeProblem } from '../acme/problems.js';
import type { Account } from '../acme/types.js';
import type { EabVerifier } from './eab.js';
import {
  checkAlgorithm,
  checkKeyReference,
  checkNoncePresent,
  checkUrl,
  decodePayload,
  decodeProtectedHeader,
  embeddedKey,
  parseFlattenedJws,
  publicKeyFromJwk,
  verifySignature,
  type FlattenedJws,
  type JwkReference,
  type ProtectedHeader,
  type KeyReference,
  type KidReference,
} from './jws.js';
import type { KeyCache } from './key-cache.js';
import { verifyKeyRollover } from './key-rollover.js';
import type { AccountLookup, NonceRedeemer } from './ports.js';
import type {
  AccountRequest,
  EabCheck,
  KeyChangeRequest,
  NewAccountRequest,
  Payload,
  PostAsGetRequest,
  RevokeRequest,
} from './requests.js';

interface Started<R extends KeyReference> {
  jws: FlattenedJws;
  header: ProtectedHeader;
  nonce: string;
  ref: R;
}

/** Where a request was sent. */
export interface RequestTarget {
  /** The absolute URL the request was sent to, built from the external base URL, query included (RFC 8555 §6.4). */
  url: string;
  directory: string;
}

/**
 * The named entry points, one per signing mode, each running the JWS steps of auth/jws.ts in order:
 * parse → header → alg → jwk/kid → nonce present → url → key → signature → nonce redeemed → account
 * valid → payload. The nonce is redeemed only after the signature verified, so a forged request
 * cannot burn a client's nonce.
 */
export class RequestVerifier {
  constructor(
    private readonly accounts: AccountLookup,
    private readonly nonces: NonceRedeemer,
    private readonly linker: Linker,
    private readonly keys: KeyCache,
    /** null: this server does not take external account bindings. */
    private readonly eab: EabVerifier | null,
  ) {}

  /** newAccount (RFC 8555 §7.3): signed with the account key itself (jwk); checks the externalAccountBinding when sent. */
  async newAccount(body: unknown, target: RequestTarget): Promise<NewAccountRequest> {
    const started = this.start(body, target, 'jwk');
    const { ref } = started;
    const { key, jwk, thumbprint } = await embeddedKey(ref.jwk);
    const payload = await this.finish(started, key, null);
    const binding = payload?.externalAccountBinding;
    const externalAccountBinding = binding === undefined ? null : await this.checkBinding(binding, jwk, target.directory);
    return { mode: 'new-account', jwk, thumbprint, payload, externalAccountBinding };
  }

  /** Any request signed by a valid account (kid). */
  async account(body: unknown, target: RequestTarget): Promise<AccountRequest> {
    const started = this.start(body, target, 'kid');
    const { ref } = started;
    const { account, key } = await this.accountKey(ref.kid, target.directory);
    const payload = await this.finish(started, key, account);
    return { mode: 'account', account, payload };
  }

  /** POST-as-GET (RFC 8555 §6.3): signed by a valid account, and the payload is empty. */
  async postAsGet(body: unknown, target: RequestTarget): Promise<PostAsGetRequest> {
    const { account, payload } = await this.account(body, target);
    if (payload !== null) throw new AcmeProblem('malformed', 'POST-as-GET requests must have an empty payload (RFC 8555 §6.3)');
    return { mode: 'post-as-get', account, payload };
  }

  /** keyChange (RFC 8555 §7.3.5): the account signs the outer JWS, the new key the inner one (auth/key-rollover.ts). */
  async keyChange(body: unknown, target: RequestTarget): Promise<KeyChangeRequest> {
    const { account, payload } = await this.account(body, target);
    const newKey = await verifyKeyRollover(payload, account, {
      keyChange: this.linker.url('keyChange', target.directory),
      account: this.linker.url('account', account.directory, account.id),
    });
    return { mode: 'key-change', account, newKey };
  }

  /** revokeCert (RFC 8555 §7.6): signed by an account (kid) or by the certificate's key (jwk). */
  async revoke(body: unknown, target: RequestTarget): Promise<RevokeRequest> {
    const started = this.start(body, target, 'either');
    const { ref } = started;
    if (ref.kind === 'kid') {
      const { account, key } = await this.accountKey(ref.kid, target.directory);
      const payload = await this.finish(started, key, account);
      return { mode: 'revoke', signer: 'account', account, payload };
    }
    const { key, jwk, thumbprint } = await embeddedKey(ref.jwk);
    const payload = await this.finish(started, key, null);
    return { mode: 'revoke', signer: 'key', jwk, thumbprint, payload };
  }

  /** The steps before the key is known: nothing here reads the store. */
  private start(body: unknown, target: RequestTarget, want: 'jwk'): Started<JwkReference>;
  private start(body: unknown, target: RequestTarget, want: 'kid'): Started<KidReference>;
  private start(body: unknown, target: RequestTarget, want: 'either'): Started<KeyReference>;
  private start(body: unknown, target: RequestTarget, want: 'jwk' | 'kid' | 'either'): Started<KeyReference> {
    const jws = parseFlattenedJws(body);
    const header = decodeProtectedHeader(jws);
    checkAlgorithm(header);
    const ref = checkKeyReference(header, want);
    const nonce = checkNoncePresent(header);
    checkUrl(header, target.url);
    return { jws, header, nonce, ref };
  }

  /** The steps once the key is known: signature, then nonce, then the signer's standing, then the payload. */
  private async finish({ jws, header, nonce }: Started<KeyReference>, key: KeyObject, account: Account | null): Promise<Payload> {
    await verifySignature(jws, key, undefined, header);
    if (!(await this.nonces.redeem(nonce))) {
      throw new AcmeProblem('badNonce', 'JWS has an invalid anti-replay nonce: it is unknown, expired or already used');
    }
    if (account && account.status !== 'valid') {
      // RFC 8555 §7.3.6: requests signed by a deactivated account get 401 unauthorized.
      throw new AcmeProblem('unauthorized', `the account is ${account.status}`, { status: 401 });
    }
    return decodePayload(jws);
  }

  /** The account a kid names, in this directory, and its parsed key (cached: notes/stack-costs.md). */
  private async accountKey(kid: string, directory: string): Promise<{ account: Account; key: KeyObject }> {
    const accountId = this.linker.idFrom('account', kid, directory);
    const account = accountId ? await this.accounts.get(accountId) : null;
    if (!account || account.directory !== directory) {
      // interop item 15: certmagic registers again on exactly this answer.
      throw new AcmeProblem('accountDoesNotExist', 'no account exists with the "kid" of this request');
    }
    let key = this.keys.get(account.id, account.thumbprint);
    if (!key) {
      key = publicKeyFromJwk(account.jwk);
      this.keys.set(account.id, account.thumbprint, key);
    }
    return { account, key };
  }

  private async checkBinding(binding: unknown, jwk: JWK, directory: string): Promise<EabCheck> {
    try {
      if (!this.eab) throw new AcmeProblem('malformed', 'this server does not use external account binding');
      const keyId = await this.eab.verify(binding, jwk, this.linker.url('newAccount', directory), directory);
      return { ok: true, keyId };
    } catch (err) {
      if (err instanceof AcmeProblem) return { ok: false, problem: err };
      throw err;
    }
  }
}
