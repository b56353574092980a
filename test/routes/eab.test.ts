import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DIRECTORY } from '../../src/acme/links.js';
import { EabKeySealer } from '../../src/platform/key-sealer.js';
import { ManualClock, systemClock } from '../../src/platform/clock.js';
import { cryptoRandom } from '../../src/platform/random.js';
import { eabKekPath } from '../../src/config/paths.js';
import { EabKeyService } from '../../src/services/eab-keys.js';
import { AcmeTestClient, b64u, generateAccountKey, handmadeJws, startTestGateway, type FlattenedJwsBody, type TestGateway } from '../harness.js';
import { expectJson, expectProblem } from './expect.js';

// External Account Binding, RFC 8555 §7.3.4 (auth/eab.ts checks the binding, services/accounts.ts
// keeps the policy), against a gateway with acme.externalAccountRequired: true. Keys are minted the
// way `eab create` does, sealed with the gateway's own key-encryption key.

interface Minted {
  kid: string;
  key: Buffer;
}

async function gatewayWithEab(clock = systemClock) {
  const t = await startTestGateway({ config: { acme: { externalAccountRequired: true } }, overrides: { clock } });
  const service = new EabKeyService(t.gw.store, EabKeySealer.fromFile(eabKekPath(t.gw.config)), clock, cryptoRandom);
  const mint = async (opts: { directory?: string; expiresAt?: Date | null; service?: EabKeyService } = {}): Promise<Minted> => {
    const k = await (opts.service ?? service).create(opts.directory ?? DEFAULT_DIRECTORY, 'route test', opts.expiresAt ?? null);
    return { kid: k.keyId, key: Buffer.from(k.hmacKey, 'base64url') };
  };
  return { t, service, mint };
}

const HASHES = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const;

interface EabOptions {
  alg?: string;
  /** Members merged into the EAB protected header (undefined drops one). */
  header?: Record<string, unknown>;
  /** The EAB payload (default: the account's public key). */
  payload?: unknown;
  /** MAC with another key. */
  macKey?: Buffer;
}

function eab(t: TestGateway, c: AcmeTestClient, minted: Minted, opts: EabOptions = {}): FlattenedJwsBody {
  const alg = opts.alg ?? 'HS256';
  const header: Record<string, unknown> = { alg, kid: minted.kid, url: t.url('newAccount'), ...opts.header };
  for (const k of Object.keys(header)) if (header[k] === undefined) delete header[k];
  const hash = HASHES[alg as keyof typeof HASHES] ?? 'sha256';
  return handmadeJws(header, opts.payload ?? c.key.publicJwk, (input) => createHmac(hash, opts.macKey ?? minted.key).update(input).digest());
}

const register = (c: AcmeTestClient, binding: unknown, extra: Record<string, unknown> = {}) =>
  c.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: binding, ...extra });

describe('EAB: a good binding', () => {
  let g: Awaited<ReturnType<typeof gatewayWithEab>>;
  beforeAll(async () => {
    g = await gatewayWithEab();
  });
  afterAll(async () => g?.t.dispose());

  it.each(['HS256', 'HS384', 'HS512'])('%s → 201, and the key is bound to the new account', async (alg) => {
    const c = await AcmeTestClient.create(g.t);
    const minted = await g.mint();
    const r = await register(c, eab(g.t, c, minted, { alg }));
    expectJson(r, 201);
    const accountId = r.location!.split('/').pop();
    expect((await g.t.gw.store.eabKeys.get(minted.kid))?.boundAccountId).toBe(accountId);
  });

  it('without a binding → externalAccountRequired', async () => {
    const c = await AcmeTestClient.create(g.t);
    expectProblem(await c.newAccount(), 'externalAccountRequired', 400);
  });

  it('the payload is compared as a key, not as text (acme.sh sends its own JSON; interop item 16)', async () => {
    const c = await AcmeTestClient.create(g.t);
    const minted = await g.mint();
    const jwk = c.key.publicJwk as Record<string, unknown>;
    const reordered = `{ "y": ${JSON.stringify(jwk.y)}, "x": ${JSON.stringify(jwk.x)}, "kty": "EC", "crv": "P-256" }`;
    expectJson(await register(c, eab(g.t, c, minted, { payload: reordered })), 201);
  });

  it('a key that already has an account gets it back (200), whatever binding it sends again (RFC 8555 §7.3.1)', async () => {
    const c = await AcmeTestClient.create(g.t);
    const minted = await g.mint();
    const first = await register(c, eab(g.t, c, minted));
    expectJson(first, 201);
    // The same binding (its key is bound now), a bad one, none at all: the account comes back.
    for (const binding of [eab(g.t, c, minted), eab(g.t, c, minted, { macKey: randomBytes(32) }), 'junk']) {
      const again = await register(c, binding);
      expectJson(again, 200);
      expect(again.location).toBe(first.location);
    }
    expectJson(await c.newAccount(), 200);
  });
});

describe('EAB: refused bindings', () => {
  let g: Awaited<ReturnType<typeof gatewayWithEab>>;
  beforeAll(async () => {
    g = await gatewayWithEab();
  });
  afterAll(async () => g?.t.dispose());

  /** Registers with the binding `make` builds and checks the problem; no account is made, the key stays unbound. */
  async function refused(make: (c: AcmeTestClient, minted: Minted) => unknown | Promise<unknown>, type: string, status: number, detail: RegExp, minted?: Minted) {
    const c = await AcmeTestClient.create(g.t);
    const m = minted ?? (await g.mint());
    const r = await register(c, await make(c, m));
    expectProblem(r, type, status);
    expect(r.body.detail).toMatch(detail);
    expect(r.location).toBeNull();
    expectProblem(await c.newAccount({ onlyReturnExisting: true }), 'accountDoesNotExist', 400);
    const record = await g.t.gw.store.eabKeys.get(m.kid);
    if (record) expect(record.boundAccountId).toBeNull();
    return r;
  }

  it('a wrong MAC → 403 unauthorized', async () => {
    await refused((c, m) => eab(g.t, c, m, { macKey: randomBytes(32) }), 'unauthorized', 403, /MAC does not verify/);
  });

  it('a MAC of the wrong length → 403 unauthorized, never 500', async () => {
    await refused((c, m) => ({ ...eab(g.t, c, m), signature: b64u(randomBytes(64)) }), 'unauthorized', 403, /MAC does not verify/);
    await refused((c, m) => ({ ...eab(g.t, c, m), signature: '' }), 'unauthorized', 403, /MAC does not verify/);
  });

  it('a MAC made with another hash than the alg says → 403 unauthorized', async () => {
    // HS384 in the header, but an HS256 MAC (same key): the hash must follow the alg.
    await refused(
      (c, m) => {
        const header = { alg: 'HS384', kid: m.kid, url: g.t.url('newAccount') };
        return handmadeJws(header, c.key.publicJwk, (input) => createHmac('sha256', m.key).update(input).digest());
      },
      'unauthorized',
      403,
      /MAC does not verify/,
    );
  });

  it('a payload that is not the account key → 403 unauthorized', async () => {
    const other = await generateAccountKey();
    await refused((c, m) => eab(g.t, c, m, { payload: other.publicJwk }), 'unauthorized', 403, /payload is not the account key/);
    await refused((c, m) => eab(g.t, c, m, { payload: { kty: 'EC' } }), 'unauthorized', 403, /payload is not the account key/);
  });

  it('a payload that is not JSON → malformed', async () => {
    await refused((c, m) => eab(g.t, c, m, { payload: '{"kty":' }), 'malformed', 400, /payload is not valid JSON/);
  });

  it('a url other than the newAccount URL → malformed', async () => {
    for (const url of [g.t.url('newOrder'), `${g.t.url('newAccount')}/`, undefined]) {
      await refused((c, m) => eab(g.t, c, m, { header: { url } }), 'malformed', 400, /"url" must be the newAccount URL/);
    }
  });

  it('an expired key → 403 unauthorized', async () => {
    const expired = await g.mint({ expiresAt: new Date(Date.now() - 60_000) });
    await refused((c, m) => eab(g.t, c, m), 'unauthorized', 403, /has expired/, expired);
  });

  it('a revoked key → 403 unauthorized', async () => {
    const revoked = await g.mint();
    expect(await g.service.revoke(revoked.kid)).toBe(true);
    await refused((c, m) => eab(g.t, c, m), 'unauthorized', 403, /was revoked/, revoked);
  });

  it('an unknown kid → 403 unauthorized', async () => {
    await refused((c, m) => eab(g.t, c, m, { header: { kid: 'kid-nosuchkey' } }), 'unauthorized', 403, /unknown external account key id/);
  });

  it("a kid of another directory's key → 403 unauthorized, as unknown", async () => {
    const elsewhere = await g.mint({ directory: 'other' });
    await refused((c, m) => eab(g.t, c, m), 'unauthorized', 403, /unknown external account key id/, elsewhere);
  });

  it('a key already bound to another account → 403 unauthorized', async () => {
    const minted = await g.mint();
    const first = await AcmeTestClient.create(g.t);
    expectJson(await register(first, eab(g.t, first, minted)), 201);
    const c = await AcmeTestClient.create(g.t);
    const r = await register(c, eab(g.t, c, minted));
    expectProblem(r, 'unauthorized', 403);
    expect(r.body.detail).toMatch(/already bound/);
    expectProblem(await c.newAccount({ onlyReturnExisting: true }), 'accountDoesNotExist', 400);
  });

  it('a key bound by a concurrent newAccount after it was checked → 403 unauthorized from the account write', async () => {
    // The binding check reads the key before another newAccount (another request, another replica)
    // binds it; the account write then refuses it atomically (EabKeyUnavailable). Simulated with a
    // lookup that still sees the key unbound.
    const minted = await g.mint();
    const first = await AcmeTestClient.create(g.t);
    expectJson(await register(first, eab(g.t, first, minted)), 201);
    const eabKeys = g.t.gw.store.eabKeys;
    const get = eabKeys.get;
    eabKeys.get = async (id) => {
      const record = await get.call(eabKeys, id);
      return record && { ...record, boundAccountId: null, boundAt: null };
    };
    try {
      const c = await AcmeTestClient.create(g.t);
      const r = await register(c, eab(g.t, c, minted));
      expectProblem(r, 'unauthorized', 403);
      expect(r.body.detail).toMatch(/already bound/);
      expectProblem(await c.newAccount({ onlyReturnExisting: true }), 'accountDoesNotExist', 400);
    } finally {
      eabKeys.get = get;
    }
    expect((await eabKeys.get(minted.kid))?.boundAccountId).toBe(first.kid!.split('/').pop());
  });

  it('a nonce in the EAB header → malformed (RFC 8555 §7.3.4)', async () => {
    await refused(async (c, m) => eab(g.t, c, m, { header: { nonce: await c.nonce() } }), 'malformed', 400, /must not carry a "nonce"/);
  });

  it('a jwk in the EAB header → malformed', async () => {
    await refused((c, m) => eab(g.t, c, m, { header: { jwk: c.key.publicJwk } }), 'malformed', 400, /must not carry "jwk"/);
  });

  it('no kid, or an empty one → malformed', async () => {
    await refused((c, m) => eab(g.t, c, m, { header: { kid: undefined } }), 'malformed', 400, /has no "kid"/);
    await refused((c, m) => eab(g.t, c, m, { header: { kid: '' } }), 'malformed', 400, /has no "kid"/);
  });

  it.each(['RS256', 'ES256', 'none', 'HS1'])('alg %s → badSignatureAlgorithm listing the HMAC algorithms', async (alg) => {
    const r = await refused((c, m) => eab(g.t, c, m, { alg }), 'badSignatureAlgorithm', 400, /not supported/);
    expect(r.body.algorithms).toEqual(['HS256', 'HS384', 'HS512']);
  });

  it('a binding that is not a flattened JWS → malformed', async () => {
    await refused(() => 'junk', 'malformed', 400, /flattened JSON serialization/);
    await refused(() => null, 'malformed', 400, /flattened JSON serialization/);
    await refused((c, m) => ({ ...eab(g.t, c, m), header: {} }), 'malformed', 400, /unprotected headers/);
  });

  it('a key sealed under another key-encryption key → 500 serverInternal that tells to contact the operator', async () => {
    const foreign = new EabKeyService(g.t.gw.store, new EabKeySealer(randomBytes(32)), systemClock, cryptoRandom);
    const minted = await g.mint({ service: foreign });
    await refused((c, m) => eab(g.t, c, m), 'serverInternal', 500, /contact the operator/, minted);
  });
});

describe('EAB: the policy decides when a refusal matters', () => {
  let g: Awaited<ReturnType<typeof gatewayWithEab>>;
  beforeAll(async () => {
    g = await gatewayWithEab();
  });
  afterAll(async () => g?.t.dispose());

  it('payload problems come before a bad binding: bad contact, ToS, onlyReturnExisting', async () => {
    const c = await AcmeTestClient.create(g.t);
    const bad = eab(g.t, c, await g.mint(), { macKey: randomBytes(32) });
    expectProblem(await register(c, bad, { contact: 'mailto:a@b.com' }), 'malformed', 400);
    expectProblem(await register(c, bad, { contact: ['tel:+1'] }), 'unsupportedContact', 400);
    expectProblem(await register(c, bad, { onlyReturnExisting: true }), 'accountDoesNotExist', 400);
    expectProblem(await register(c, bad), 'unauthorized', 403);
  });

  it('a deactivated account is refused at newAccount with 401 even with a good binding (RFC 8555 §7.3.6)', async () => {
    const c = await AcmeTestClient.create(g.t);
    expectJson(await register(c, eab(g.t, c, await g.mint())), 201);
    expectJson(await c.post(c.kid!, { status: 'deactivated' }), 200);
    expectProblem(await register(c, eab(g.t, c, await g.mint())), 'unauthorized', 401);
  });
});

describe('EAB: expiry follows the gateway clock', () => {
  const clock = new ManualClock(Date.now());
  let g: Awaited<ReturnType<typeof gatewayWithEab>>;
  beforeAll(async () => {
    g = await gatewayWithEab(clock);
  });
  afterAll(async () => g?.t.dispose());

  it('usable before its expiresAt, refused from it on', async () => {
    const before = await g.mint({ expiresAt: new Date(clock.nowMs() + 60_000) });
    const at = await g.mint({ expiresAt: new Date(clock.nowMs() + 60_000) });
    clock.advance(59_999);
    const c1 = await AcmeTestClient.create(g.t);
    expectJson(await register(c1, eab(g.t, c1, before)), 201);
    clock.advance(1);
    const c2 = await AcmeTestClient.create(g.t);
    const r = await register(c2, eab(g.t, c2, at));
    expectProblem(r, 'unauthorized', 403);
    expect(r.body.detail).toMatch(/has expired/);
  });
});
