import { createHmac } from 'node:crypto';
import type { IssuanceRules } from '../../src/acme/issuance-policy.js';
import { DEFAULT_DIRECTORY } from '../../src/acme/links.js';
import { eabKekPath } from '../../src/config/paths.js';
import type { Clock } from '../../src/platform/clock.js';
import { EabKeySealer } from '../../src/platform/key-sealer.js';
import { cryptoRandom } from '../../src/platform/random.js';
import { EabKeyService, type EabKeyExtras } from '../../src/services/eab-keys.js';
import { AcmeTestClient, handmadeJws, type AcmeResponse, type TestGateway } from '../harness.js';

// EAB keys minted the way `eab create` does (sealed with the gateway's own key-encryption key), and
// accounts made with them, for route tests of what a key carries (policy, rate limits, scopes).

export function eabKeys(t: TestGateway, clock: Clock): EabKeyService {
  return new EabKeyService(t.gw.store, EabKeySealer.fromFile(eabKekPath(t.gw.config)), clock, cryptoRandom);
}

export interface KeyedAccount {
  c: AcmeTestClient;
  kid: string;
  created: AcmeResponse;
}

/** Mints a key of the directory with the given rules and registers a new account with it (the client's directory). */
export async function accountWithKey(
  t: TestGateway,
  service: EabKeyService,
  opts: { directory?: string; policy?: IssuanceRules | null; extras?: EabKeyExtras; from?: string } = {},
): Promise<KeyedAccount> {
  const minted = await service.create(opts.directory ?? DEFAULT_DIRECTORY, 'route test', null, opts.policy ?? null, opts.extras ?? {});
  const c = await AcmeTestClient.create(t, 'ES256', opts.directory);
  c.from = opts.from;
  const binding = handmadeJws({ alg: 'HS256', kid: minted.keyId, url: c.url('newAccount') }, c.key.publicJwk, (input) =>
    createHmac('sha256', Buffer.from(minted.hmacKey, 'base64url')).update(input).digest(),
  );
  const created = await c.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: binding });
  if (created.status !== 201) throw new Error(`newAccount with the EAB key failed: ${created.status} ${created.text}`);
  return { c, kid: minted.keyId, created };
}
