import { createHmac, timingSafeEqual } from 'node:crypto';
import type { JWK } from 'jose';
import { AcmeProblem } from '../acme/problems.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { base64urlDecode, base64urlJson, decodeProtectedHeader, jwkThumbprint, parseFlattenedJws } from './jws.js';
import type { EabKeyLookup, SealedKeyOpener } from './ports.js';

// External Account Binding (RFC 8555 §7.3.4): a JWS, MAC'd with the CA-issued key, whose payload is
// the account's public key. Checked as small steps like the outer JWS, reusing its parsing steps.
// Whether a binding is needed, and what a refused one means, is the new-account policy's business
// (services/accounts.ts); this file only says whether this binding is good.

const HMAC_ALGS: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

export class EabVerifier {
  constructor(
    private readonly keys: EabKeyLookup,
    private readonly sealer: SealedKeyOpener,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * Checks the binding against the outer JWS's key and returns the EAB key id; throws the problem a
   * client can act on. `newAccountUrl` is the directory's newAccount URL, the only "url" it may carry.
   */
  async verify(eab: unknown, outerJwk: JWK, newAccountUrl: string, directory: string): Promise<string> {
    const jws = parseFlattenedJws(eab);
    const header = decodeProtectedHeader(jws);
    const hash = HMAC_ALGS[header.alg];
    if (!hash) {
      throw new AcmeProblem('badSignatureAlgorithm', `externalAccountBinding algorithm "${header.alg}" is not supported`, {
        algorithms: Object.keys(HMAC_ALGS),
      });
    }
    if (typeof header.kid !== 'string' || header.kid === '') throw new AcmeProblem('malformed', 'externalAccountBinding has no "kid"');
    if (header.jwk !== undefined) throw new AcmeProblem('malformed', 'externalAccountBinding must not carry "jwk"');
    if (header.nonce !== undefined) throw new AcmeProblem('malformed', 'externalAccountBinding must not carry a "nonce" (RFC 8555 §7.3.4)');
    if (header.url !== newAccountUrl) throw new AcmeProblem('malformed', 'externalAccountBinding "url" must be the newAccount URL');

    const record = await this.keys.get(header.kid);
    const now = this.clock.nowMs();
    // A key minted for another directory is unknown here: each directory has its own accounts.
    if (!record || record.directory !== directory) throw new AcmeProblem('unauthorized', 'unknown external account key id');
    if (record.revokedAt) throw new AcmeProblem('unauthorized', 'the external account key was revoked');
    if (record.expiresAt && record.expiresAt.getTime() <= now) throw new AcmeProblem('unauthorized', 'the external account key has expired');
    // One key, one account; the account write checks it again atomically (EabKeyUnavailable).
    if (record.boundAccountId) throw new AcmeProblem('unauthorized', 'the external account key is already bound to an account');

    let key: Buffer;
    try {
      key = this.sealer.open(record.hmacKeyEnc, record.id);
    } catch (err) {
      this.logger.error({ kid: record.id, err: (err as Error).message }, 'cannot open a sealed EAB key (wrong key-encryption key?)');
      throw new AcmeProblem('serverInternal', 'the external account key cannot be used; contact the operator');
    }
    const expected = createHmac(hash, key).update(`${jws.protected}.${jws.payload}`).digest();
    const given = base64urlDecode(jws.signature, 'externalAccountBinding signature');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AcmeProblem('unauthorized', 'the externalAccountBinding MAC does not verify with the key');
    }
    // The payload is the account key; compare semantically (acme.sh sends its own spaced JSON; interop item 16).
    const inner = base64urlJson(jws.payload, 'externalAccountBinding payload');
    let same = false;
    try {
      same = (await jwkThumbprint(inner as JWK)) === (await jwkThumbprint(outerJwk));
    } catch {
      same = false;
    }
    if (!same) throw new AcmeProblem('unauthorized', 'the externalAccountBinding payload is not the account key');
    return record.id;
  }
}
