import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { FlattenedSign, type JWK } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { Linker } from '../acme/links.js';
import { AcmeProblem } from '../acme/problems.js';
import type { Account } from '../acme/types.js';
import { ManualClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import { EabVerifier } from './eab.js';
import { jwkThumbprint, publicJwk } from './jws.js';
import { KeyCache } from './key-cache.js';
import type { AccountLookup, EabKeyLookup, NonceRedeemer, SealedKeyOpener, StoredEabKey } from './ports.js';
import { RequestVerifier, type RequestTarget } from './verifier.js';

// The entry points of auth/verifier.ts with hand-written fakes for its ports: what each mode hands
// on, the order of the steps (nonce after signature, standing after nonce), and the rules that the
// route tests cannot reach with one directory and a gateway that always has an EAB verifier.

const BASE = 'https://acme.test';
const linker = new Linker(BASE);

class FakeAccounts implements AccountLookup {
  readonly byId = new Map<string, Account>();
  async get(id: string) {
    return this.byId.get(id) ?? null;
  }
}

class FakeNonces implements NonceRedeemer {
  readonly redeemed: string[] = [];
  private readonly issued = new Set<string>();
  private n = 0;
  issue(): string {
    const nonce = `nonce${++this.n}`;
    this.issued.add(nonce);
    return nonce;
  }
  async redeem(nonce: string) {
    this.redeemed.push(nonce);
    return this.issued.delete(nonce);
  }
}

class FakeEabKeys implements EabKeyLookup {
  readonly byId = new Map<string, StoredEabKey>();
  failWith: Error | null = null;
  async get(id: string) {
    if (this.failWith) throw this.failWith;
    return this.byId.get(id) ?? null;
  }
}

/** "Sealed" keys are stored as base64 of the key itself; enough for the verifier, which only opens them. */
const plainOpener: SealedKeyOpener = { open: (sealed) => Buffer.from(sealed, 'base64') };

interface Signer {
  privateKey: KeyObject;
  jwk: JWK;
}

const newSigner = (): Signer => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, jwk: publicJwk(publicKey.export({ format: 'jwk' }) as JWK) };
};

async function jws(signer: Signer, header: Record<string, unknown>, payload: unknown): Promise<unknown> {
  const bytes = new TextEncoder().encode(payload === '' ? '' : JSON.stringify(payload));
  const out = await new FlattenedSign(bytes).setProtectedHeader({ alg: 'ES256', ...header } as never).sign(signer.privateKey);
  return { protected: out.protected, payload: out.payload, signature: out.signature };
}

let accounts: FakeAccounts;
let nonces: FakeNonces;
let eabKeys: FakeEabKeys;
let verifier: RequestVerifier;
let alice: Signer;
let aliceAccount: Account;

async function addAccount(signer: Signer, over: Partial<Account> = {}): Promise<Account> {
  const id = `acct${accounts.byId.size + 1}`;
  const account: Account = {
    id,
    directory: 'default',
    jwk: signer.jwk,
    thumbprint: await jwkThumbprint(signer.jwk),
    status: 'valid',
    contact: [],
    termsOfServiceAgreed: true,
    eabKeyId: null,
    createdAt: new Date(0),
    ...over,
  };
  accounts.byId.set(id, account);
  return account;
}

const at = (url: string): RequestTarget => ({ url, directory: 'default' });
const kidOf = (a: Account) => linker.url('account', a.directory, a.id);

async function rejection(p: Promise<unknown>): Promise<AcmeProblem> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof AcmeProblem)) throw new Error(`expected an AcmeProblem, got ${String(err)}`);
  return err;
}

beforeEach(async () => {
  accounts = new FakeAccounts();
  nonces = new FakeNonces();
  eabKeys = new FakeEabKeys();
  const eab = new EabVerifier(eabKeys, plainOpener, new ManualClock(), silentLogger());
  verifier = new RequestVerifier(accounts, nonces, linker, new KeyCache(), eab);
  alice = newSigner();
  aliceAccount = await addAccount(alice);
});

describe('account (kid)', () => {
  it('hands on the signing account and the payload', async () => {
    const url = linker.url('newOrder');
    const body = await jws(alice, { kid: kidOf(aliceAccount), nonce: nonces.issue(), url }, { identifiers: [] });
    expect(await verifier.account(body, at(url))).toEqual({ mode: 'account', account: aliceAccount, payload: { identifiers: [] } });
  });

  it('an account of another directory is unknown here, even under a kid of this one', async () => {
    const bob = newSigner();
    const elsewhere = await addAccount(bob, { directory: 'other' });
    const url = linker.url('newOrder');
    const kid = linker.url('account', 'default', elsewhere.id);
    const p = await rejection(verifier.account(await jws(bob, { kid, nonce: nonces.issue(), url }, {}), at(url)));
    expect(p.type).toBe('accountDoesNotExist');
    expect(nonces.redeemed).toEqual([]);
  });

  it("a kid in another directory's URL space is unknown here", async () => {
    const url = linker.url('newOrder');
    const kid = linker.url('account', 'other', aliceAccount.id);
    const p = await rejection(verifier.account(await jws(alice, { kid, nonce: nonces.issue(), url }, {}), at(url)));
    expect(p.type).toBe('accountDoesNotExist');
  });

  it('the nonce is redeemed only after the signature verified', async () => {
    const url = linker.url('newOrder');
    const nonce = nonces.issue();
    const body = (await jws(alice, { kid: kidOf(aliceAccount), nonce, url }, {})) as Record<string, string>;
    const forged = { ...body, payload: Buffer.from('{"x":1}').toString('base64url') };
    expect((await rejection(verifier.account(forged, at(url)))).type).toBe('malformed');
    expect(nonces.redeemed).toEqual([]);
    await verifier.account(body, at(url));
    expect(nonces.redeemed).toEqual([nonce]);
  });

  it('a deactivated account → 401 unauthorized, after its nonce was used (RFC 8555 §7.3.6)', async () => {
    const carol = newSigner();
    const gone = await addAccount(carol, { status: 'deactivated' });
    const url = linker.url('newOrder');
    const nonce = nonces.issue();
    const p = await rejection(verifier.account(await jws(carol, { kid: kidOf(gone), nonce, url }, {}), at(url)));
    expect([p.type, p.status]).toEqual(['unauthorized', 401]);
    expect(nonces.redeemed).toEqual([nonce]);
  });
});

describe('postAsGet', () => {
  it('hands on the account with a null payload; refuses any payload, even {}', async () => {
    const url = linker.url('order', 'default', 'o1');
    const kid = kidOf(aliceAccount);
    expect(await verifier.postAsGet(await jws(alice, { kid, nonce: nonces.issue(), url }, ''), at(url))).toEqual({
      mode: 'post-as-get',
      account: aliceAccount,
      payload: null,
    });
    const p = await rejection(verifier.postAsGet(await jws(alice, { kid, nonce: nonces.issue(), url }, {}), at(url)));
    expect(p.type).toBe('malformed');
    expect(p.detail).toMatch(/empty payload/);
  });
});

describe('newAccount (jwk)', () => {
  const url = linker.url('newAccount');

  it('hands on the key, its thumbprint and the payload; no binding when none was sent', async () => {
    const bob = newSigner();
    const req = await verifier.newAccount(await jws(bob, { jwk: bob.jwk, nonce: nonces.issue(), url }, { termsOfServiceAgreed: true }), at(url));
    expect(req).toEqual({
      mode: 'new-account',
      jwk: bob.jwk,
      thumbprint: await jwkThumbprint(bob.jwk),
      payload: { termsOfServiceAgreed: true },
      externalAccountBinding: null,
    });
  });

  async function withBinding(binding: unknown, v = verifier) {
    const bob = newSigner();
    return v.newAccount(await jws(bob, { jwk: bob.jwk, nonce: nonces.issue(), url }, { externalAccountBinding: binding }), at(url));
  }

  function binding(kid: string, key: Buffer, payload: unknown) {
    const p = Buffer.from(JSON.stringify({ alg: 'HS256', kid, url })).toString('base64url');
    const b = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return { protected: p, payload: b, signature: createHmac('sha256', key).update(`${p}.${b}`).digest('base64url') };
  }

  it('a good binding hands on its key id', async () => {
    const key = Buffer.alloc(32, 9);
    eabKeys.byId.set('kid-1', { id: 'kid-1', directory: 'default', hmacKeyEnc: key.toString('base64'), expiresAt: null, revokedAt: null, boundAccountId: null });
    const bob = newSigner();
    const body = await jws(bob, { jwk: bob.jwk, nonce: nonces.issue(), url }, { externalAccountBinding: binding('kid-1', key, bob.jwk) });
    expect((await verifier.newAccount(body, at(url))).externalAccountBinding).toEqual({ ok: true, keyId: 'kid-1' });
  });

  it('a refused binding is handed on, not thrown (the new-account policy decides)', async () => {
    const req = await withBinding('junk');
    expect(req.externalAccountBinding?.ok).toBe(false);
    if (req.externalAccountBinding?.ok === false) expect(req.externalAccountBinding.problem.type).toBe('malformed');
  });

  it('a server without an EAB verifier refuses any binding as malformed', async () => {
    const noEab = new RequestVerifier(accounts, nonces, linker, new KeyCache(), null);
    const req = await withBinding(binding('kid-1', Buffer.alloc(32), {}), noEab);
    expect(req.externalAccountBinding).toMatchObject({ ok: false, problem: { type: 'malformed', message: expect.stringMatching(/does not use external account binding/) } });
  });

  it('an internal failure while checking the binding is not turned into a refusal', async () => {
    eabKeys.failWith = new Error('database is locked');
    await expect(withBinding(binding('kid-1', Buffer.alloc(32), {}))).rejects.toThrow('database is locked');
  });
});

describe('revoke (kid or jwk)', () => {
  const url = linker.url('revokeCert');

  it('signed by an account → signer "account"', async () => {
    const req = await verifier.revoke(await jws(alice, { kid: kidOf(aliceAccount), nonce: nonces.issue(), url }, { certificate: 'AA' }), at(url));
    expect(req).toEqual({ mode: 'revoke', signer: 'account', account: aliceAccount, payload: { certificate: 'AA' } });
  });

  it("signed by a key → signer \"key\" with the key, even when an account has that key", async () => {
    const req = await verifier.revoke(await jws(alice, { jwk: alice.jwk, nonce: nonces.issue(), url }, { certificate: 'AA' }), at(url));
    expect(req).toEqual({ mode: 'revoke', signer: 'key', jwk: alice.jwk, thumbprint: aliceAccount.thumbprint, payload: { certificate: 'AA' } });
  });

  it('a deactivated account cannot revoke → 401', async () => {
    aliceAccount.status = 'deactivated';
    const p = await rejection(verifier.revoke(await jws(alice, { kid: kidOf(aliceAccount), nonce: nonces.issue(), url }, { certificate: 'AA' }), at(url)));
    expect([p.type, p.status]).toEqual(['unauthorized', 401]);
  });
});

describe('keyChange', () => {
  it('hands on the account and the verified new key', async () => {
    const url = linker.url('keyChange');
    const next = newSigner();
    const inner = await jws(next, { jwk: next.jwk, url }, { account: kidOf(aliceAccount), oldKey: alice.jwk });
    const req = await verifier.keyChange(await jws(alice, { kid: kidOf(aliceAccount), nonce: nonces.issue(), url }, inner), at(url));
    expect(req).toEqual({ mode: 'key-change', account: aliceAccount, newKey: { jwk: next.jwk, thumbprint: await jwkThumbprint(next.jwk) } });
  });
});
