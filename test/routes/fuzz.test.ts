import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeTestClient, b64u, generateAccountKey, readResponse, startTestGateway, type AccountKey, type AcmeResponse, type TestGateway } from '../harness.js';
import { createLogger } from '../../src/platform/logger.js';
import { rsaCsrWithJunkSignature } from '../support/der-csr.js';
import { jwsText, rawJws } from './raw-jws.js';

// A seeded fuzz over every endpoint (issue 9 item 7). Each case takes a well-formed request and
// breaks it somewhere: the body text, the JWS protected header (alg, kid, jwk, nonce, url: shapes,
// types, huge values, duplicate members, unicode, NUL), or the payload (truncation, bit flips, wrong
// types, deep nesting, huge numbers). Headers and payloads are signed with a real account key, so a
// mutation reaches the layers behind the signature check. Asserted for every answer: no 5xx, every
// error a problem document with an ACME type and `status` equal to the HTTP status, no hang; after
// the run the gateway still issues a certificate and the heap has not grown out of bounds.
//
// A failure names the seed and the case; FUZZ_SEED and FUZZ_CASES reproduce or lengthen a run.

const SEED = Number(process.env.FUZZ_SEED ?? 0x9e3779b9);
const CASES = Number(process.env.FUZZ_CASES ?? 2500);
const PER_REQUEST_TIMEOUT_MS = 5_000;
const HEAP_GROWTH_BOUND = 32 * 1024 * 1024;

/** mulberry32: small, fast, and the same sequence on every machine. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    chance: (p: number) => next() < p,
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}
type Rng = ReturnType<typeof prng>;

let t: TestGateway;
let alice: AcmeTestClient; // ES256, the usual signer
let bob: AcmeTestClient; // RS256, a second account whose resources alice must not reach
const fx = {} as {
  readyOrder: { url: string; finalize: string; names: string[] };
  pendingOrder: { url: string; authz: string; challenge: string };
  certUrl: string;
  certB64: string;
  csr: string;
  bobOrder: string;
  newKey: AccountKey;
};
const nonces: string[] = [];

async function readyOrder(c: AcmeTestClient, name: string) {
  const created = await c.newOrder([name]);
  await c.completeAuthorizations(created.body);
  const ready = await c.poll(created.location!, (b) => b.status === 'ready');
  return { url: created.location!, finalize: ready.body.finalize as string, names: [name] };
}

async function pendingOrder(c: AcmeTestClient, name: string) {
  const created = await c.newOrder([name]);
  const authz = created.body.authorizations[0] as string;
  const challenge = (await c.postAsGet(authz)).body.challenges[0].url as string;
  return { url: created.location!, authz, challenge };
}

let rebuilds = 0;
/** alice's fixtures, rebuilt when a case happened to change them (a valid finalize, a deactivation, a key change). */
async function rebuild(what: 'account' | 'ready' | 'pending'): Promise<void> {
  rebuilds++;
  if (what === 'account') {
    alice = await AcmeTestClient.withAccount(t);
    fx.newKey = await generateAccountKey();
  }
  if (what !== 'pending') fx.readyOrder = await readyOrder(alice, `ready-${rebuilds}.fuzz.example.com`);
  if (what !== 'ready') fx.pendingOrder = await pendingOrder(alice, `pending-${rebuilds}.fuzz.example.com`);
}

/** The gateway's error log lines: a 5xx in the report comes with its cause. */
const errorLog: string[] = [];

beforeAll(async () => {
  const destination = new Writable({
    write(chunk, _enc, done) {
      errorLog.push(String(chunk));
      done();
    },
  });
  t = await startTestGateway({ overrides: { logger: createLogger({ level: 'error', destination }) } });
  alice = await AcmeTestClient.withAccount(t, 'ES256');
  bob = await AcmeTestClient.withAccount(t, 'RS256');
  const issued = await alice.issue(['issued.fuzz.example.com']);
  fx.certUrl = issued.certUrl;
  const pem = (await alice.download(issued.certUrl)).text;
  fx.certB64 = Buffer.from(pem.split('-----END CERTIFICATE-----')[0]!.replace(/-----BEGIN CERTIFICATE-----|\s/g, ''), 'base64').toString('base64url');
  fx.bobOrder = (await bob.newOrder(['bob.fuzz.example.com'])).location!;
  fx.newKey = await generateAccountKey();
  await rebuild('ready');
  await rebuild('pending');
  fx.csr = await AcmeTestClient.csr(fx.readyOrder.names);
}, 60_000);
afterAll(async () => t?.dispose());

// ---------------------------------------------------------------- values and mutations

const HUGE = 'x'.repeat(20_000);
const STRINGS = ['', 'a', 'deactivated', 'valid', 'dns', 'ip', 'none', 'ES256', '\u0000', 'a\u0000b', '\ud800', '\u202eevil', 'bücher.example.com', '🦄', '..', '%00', 'AAAA', '*.', '127.0.0.1', '::1', 'mailto:x@example.com', 'https://acme.test/acct/x'];
const NUMBERS = [0, -1, 1, 7, 2 ** 31, 2 ** 53 + 2, -1e308, 1e308, 0.5, Number.MIN_VALUE];
/** Number text JSON allows but JS cannot round-trip: replaces the first number of a text. */
const NUMBER_TEXT = ['1e999', '-1e999', `1${'0'.repeat(400)}`, '0.0000000000000000000000001', '-0', '1E+2'];

function value(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 4 : 7)) {
    case 0:
      return r.pick([null, true, false]);
    case 1:
      return r.pick(NUMBERS);
    case 2:
      return r.pick(STRINGS);
    case 3:
      return r.chance(0.2) ? HUGE.slice(0, r.int(HUGE.length)) : b64u(randomBytes(r.int(64)));
    case 4:
      return Array.from({ length: r.int(4) }, () => value(r, depth + 1));
    case 5:
      return Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(['type', 'value', 'status', 'csr', 'kty', 'n', 'e', '', 'x\u0000']), value(r, depth + 1)]));
    default: {
      const d = 10 + r.int(60);
      return JSON.parse(`${'['.repeat(d)}${']'.repeat(d)}`);
    }
  }
}

/** Changes an object: a member replaced by any value, removed, or a new one added. */
function mutateObject(r: Rng, o: Record<string, unknown>): Record<string, unknown> {
  const out = { ...o };
  const keys = Object.keys(out);
  for (let i = 1 + r.int(2); i > 0; i--) {
    const op = r.int(4);
    if (op === 0 && keys.length) delete out[r.pick(keys)];
    else if (op === 1) out[r.pick(['status', 'identifiers', 'csr', 'contact', 'certificate', 'reason', 'oldKey', 'account', 'notAfter', 'crit', 'b64'])] = value(r);
    else if (keys.length) out[r.pick(keys)] = value(r);
  }
  return out;
}

/** Changes JSON text: a duplicate member, an escaped name, odd whitespace, truncation, a huge number, a BOM. */
function mutateText(r: Rng, text: string): string {
  switch (r.int(8)) {
    case 0: {
      const m = /"([^"\\]+)":/.exec(text.slice(r.int(text.length)));
      return m ? text.replace(/}\s*$/, `,"${m[1]}":${JSON.stringify(value(r))}}`) : text;
    }
    case 1:
      return text.replace(/"([a-z])([a-z]*)":/, (_all, first: string, rest: string) => `"\\u00${first.charCodeAt(0).toString(16)}${rest}":`);
    case 2:
      return text.replace(/[,:]/g, (c) => (r.chance(0.3) ? ` \n\t${c}\r ` : c));
    case 3:
      return text.slice(0, r.int(text.length));
    case 4:
      return text.replace(/-?\d+(\.\d+)?/, r.pick(NUMBER_TEXT));
    case 5:
      return `\ufeff${text}`;
    case 6:
      return `${'['.repeat(r.int(60))}${text}`;
    default:
      return text.replace(/"[^"]*"/, JSON.stringify(r.pick(STRINGS)));
  }
}

/** Flips a few bits of the bytes (the result need not be UTF-8). */
function flipBits(r: Rng, bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 1 + r.int(3); i > 0 && out.length; i--) out[r.int(out.length)]! ^= 1 << r.int(8);
  return out;
}

// ---------------------------------------------------------------- endpoints

type Mode = 'jwk' | 'kid';
interface Endpoint {
  name: string;
  url: () => string;
  mode: Mode;
  payload: (r: Rng) => unknown;
}

const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
const ec256k = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'jwk' });

function eabBinding(r: Rng, jwk: unknown): unknown {
  const header: Record<string, unknown> = { alg: 'HS256', kid: 'kid-unknown', url: t.url('newAccount') };
  const h = r.chance(0.5) ? mutateText(r, JSON.stringify(r.chance(0.5) ? mutateObject(r, header) : header)) : JSON.stringify(header);
  const p = r.chance(0.3) ? mutateText(r, JSON.stringify(jwk)) : JSON.stringify(jwk);
  const signingInput = `${b64u(h)}.${b64u(p)}`;
  return { protected: b64u(h), payload: b64u(p), signature: createHmac('sha256', randomBytes(32)).update(signingInput).digest('base64url') };
}

function keyChangeInner(r: Rng): unknown {
  const header: Record<string, unknown> = { alg: fx.newKey.alg, jwk: fx.newKey.publicJwk, url: t.url('keyChange') };
  const payload: Record<string, unknown> = { account: alice.kid, oldKey: alice.key.publicJwk };
  const h = r.chance(0.4) ? JSON.stringify(mutateObject(r, header)) : JSON.stringify(header);
  const p = r.chance(0.4) ? JSON.stringify(mutateObject(r, payload)) : JSON.stringify(payload);
  return rawJws(fx.newKey, r.chance(0.2) ? mutateText(r, h) : h, r.chance(0.2) ? mutateText(r, p) : p);
}

const ENDPOINTS: Endpoint[] = [
  {
    name: 'newAccount',
    url: () => t.url('newAccount'),
    mode: 'jwk',
    payload: (r) => ({ termsOfServiceAgreed: true, contact: ['mailto:fuzz@example.com'], ...(r.chance(0.3) ? { externalAccountBinding: eabBinding(r, alice.key.publicJwk) } : {}), ...(r.chance(0.2) ? { onlyReturnExisting: true } : {}) }),
  },
  { name: 'account', url: () => alice.kid!, mode: 'kid', payload: () => ({ contact: ['mailto:fuzz@example.com'] }) },
  { name: 'orders', url: () => `${alice.kid}/orders`, mode: 'kid', payload: () => '' },
  { name: 'keyChange', url: () => t.url('keyChange'), mode: 'kid', payload: (r) => keyChangeInner(r) },
  {
    name: 'newOrder',
    url: () => t.url('newOrder'),
    mode: 'kid',
    payload: (r) => ({ identifiers: [{ type: 'dns', value: r.chance(0.3) ? r.pick(STRINGS) : `n${r.int(1e6)}.fuzz.example.com` }, ...(r.chance(0.2) ? [{ type: 'ip', value: '10.0.0.1' }] : [])], ...(r.chance(0.2) ? { notAfter: new Date(Date.now() + 86_400_000).toISOString() } : {}) }),
  },
  { name: 'order', url: () => fx.pendingOrder.url, mode: 'kid', payload: () => '' },
  { name: "another account's order", url: () => fx.bobOrder, mode: 'kid', payload: () => '' },
  {
    name: 'finalize',
    url: () => fx.readyOrder.finalize,
    mode: 'kid',
    payload: (r) => ({
      csr: r.chance(0.1) ? rsaCsrWithJunkSignature(r.pick([8200, 16384]), fx.readyOrder.names[0]!) : r.chance(0.6) ? flipBits(r, Buffer.from(fx.csr, 'base64url')).subarray(0, r.chance(0.3) ? r.int(600) : undefined).toString('base64url') : fx.csr,
    }),
  },
  { name: 'authz', url: () => fx.pendingOrder.authz, mode: 'kid', payload: (r) => (r.chance(0.5) ? '' : { status: r.pick(['deactivated', 'valid', 'x']) }) },
  { name: 'challenge', url: () => fx.pendingOrder.challenge, mode: 'kid', payload: () => ({}) },
  { name: 'certificate', url: () => fx.certUrl, mode: 'kid', payload: () => '' },
  { name: 'revokeCert', url: () => t.url('revokeCert'), mode: 'kid', payload: (r) => ({ certificate: r.chance(0.5) ? fx.certB64 : flipBits(r, Buffer.from(fx.certB64, 'base64url')).toString('base64url'), reason: r.pick([0, 1, 4, 7, 11, -1]) }) },
];

// ---------------------------------------------------------------- requests

async function nonce(): Promise<string> {
  return nonces.pop() ?? (await alice.nonce());
}

function headerFor(ep: Endpoint, signer: AcmeTestClient, nonceValue: string): Record<string, unknown> {
  const h: Record<string, unknown> = { alg: signer.key.alg, nonce: nonceValue, url: ep.url() };
  if (ep.mode === 'jwk') h.jwk = signer.key.publicJwk;
  else h.kid = signer.kid;
  return h;
}

/** The header members one at a time: plausible wrong values as well as any value at all. */
function mutateHeader(r: Rng, h: Record<string, unknown>, ep: Endpoint): Record<string, unknown> {
  const out = { ...h };
  const wrong: Record<string, () => unknown> = {
    alg: () => r.pick(['none', 'HS256', 'RS256', 'ES384', 'EdDSA', 'es256', 'PS256', '', HUGE]),
    kid: () => r.pick([bob.kid, `${alice.kid}x`, `${alice.kid}/`, t.url('newAccount'), 'https://elsewhere.test/acct/1', '', HUGE]),
    jwk: () => r.pick([bob.key.publicJwk, rsa1024, ec256k, { kty: 'oct', k: 'AAAA' }, { ...(alice.key.publicJwk as object), d: 'AAAA' }, { kty: 'RSA', n: b64u(randomBytes(2048)), e: 'AQAB' }, { kty: 'EC', crv: 'P-256' }]),
    nonce: () => r.pick(['', 'not base64!', 'AAAA', HUGE, b64u(randomBytes(32))]),
    url: () => r.pick([t.url('newOrder'), `${ep.url()}/`, `${ep.url()}?x=1`, ep.url().replace('https:', 'http:'), ep.url().toUpperCase(), `${ep.url()}\u0000`, '']),
  };
  for (let i = 1 + r.int(2); i > 0; i--) {
    const member = r.pick(['alg', 'kid', 'jwk', 'nonce', 'url', 'extra']);
    if (member === 'extra') out[r.pick(['crit', 'b64', 'typ', 'x5c', ep.mode === 'jwk' ? 'kid' : 'jwk'])] = r.chance(0.5) ? value(r) : r.pick([['b64'], false, alice.kid, alice.key.publicJwk]);
    else if (r.chance(0.15)) delete out[member];
    else out[member] = r.chance(0.6) ? wrong[member]!() : value(r);
  }
  return out;
}

interface Sent {
  what: string;
  res: AcmeResponse;
}

/** Path pieces: the strings above, percent-encoded where they can be (a lone surrogate cannot). */
const PATH_SUFFIXES = STRINGS.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, 'x'))).concat(['%ED%A0%80', '%C0%AF', '%', '%2e%2e%2f']);

const CONTENT_TYPES = ['application/jose+json', 'application/json', 'text/plain', 'application/jose+json; charset=utf-8', 'APPLICATION/JOSE+JSON', 'application/jose'];

async function post(url: string, body: string | Buffer, contentType = 'application/jose+json'): Promise<AcmeResponse> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${PER_REQUEST_TIMEOUT_MS} ms`)), PER_REQUEST_TIMEOUT_MS)));
  try {
    const res = await Promise.race([t.request(url, { method: 'POST', headers: { 'Content-Type': contentType }, body }).then(readResponse), timeout]);
    if (res.nonce) nonces.push(res.nonce);
    return res;
  } finally {
    clearTimeout(timer);
  }
}

/** One fuzz case: returns what was sent (for the failure message) and the answer. */
async function fuzzCase(r: Rng): Promise<Sent> {
  const ep = r.pick(ENDPOINTS);
  const signer = r.chance(0.8) ? alice : bob;
  const kind = r.pick(['body', 'header', 'header', 'payload', 'payload', 'payload', 'valid', 'path']);
  const h = headerFor(ep, signer, await nonce());
  const p = ep.payload(r);
  const payloadText = (x: unknown) => (x === '' ? '' : typeof x === 'string' ? x : JSON.stringify(x));

  if (kind === 'path') {
    const path = r.pick(['/directory', '/new-nonce', '/renewal-info/', '/acct/', '/order/', '/cert/', '/livez', '/readyz', '/metrics', '/', '/%', '/%ZZ', '/a%00b', '/\u00e9', `/${HUGE.slice(0, 5000)}`]);
    const suffix = r.chance(0.5) ? r.pick(PATH_SUFFIXES) : '';
    const method = r.pick(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
    const res = await readResponse(await t.request(`${path}${suffix}`, { method, ...(method === 'GET' || method === 'HEAD' ? {} : { body: '{}' }) }));
    return { what: `${method} ${path}${suffix}`.slice(0, 200), res };
  }
  if (kind === 'body') {
    const good = jwsText(rawJws(signer.key, JSON.stringify(h), payloadText(p)));
    const body = r.chance(0.2) ? flipBits(r, Buffer.from(good)) : r.chance(0.2) ? JSON.stringify(value(r)) : mutateText(r, good);
    const res = await post(ep.url(), body, r.chance(0.1) ? r.pick(CONTENT_TYPES) : undefined);
    return { what: `${ep.name}: body ${String(body).slice(0, 120)}`, res };
  }
  let headerText = JSON.stringify(h);
  let payload: string | Buffer = payloadText(p);
  if (kind === 'header') {
    headerText = JSON.stringify(mutateHeader(r, h, ep));
    if (r.chance(0.3)) headerText = mutateText(r, headerText);
  } else if (kind === 'payload') {
    const obj = typeof p === 'object' && p !== null ? mutateObject(r, p as Record<string, unknown>) : value(r);
    const text = r.chance(0.3) ? mutateText(r, payloadText(obj) || '{}') : payloadText(obj);
    payload = r.chance(0.15) ? flipBits(r, Buffer.from(text)) : text;
  }
  const jws = rawJws(signer.key, headerText, payload);
  const res = await post(ep.url(), jwsText(jws), kind === 'valid' && r.chance(0.2) ? r.pick(CONTENT_TYPES) : undefined);
  return { what: `${ep.name} (${kind}, ${signer === alice ? 'alice' : 'bob'}): header ${headerText.slice(0, 150)} payload ${String(payload).slice(0, 150)}`, res };
}

/** Whatever the answer, it is not a 5xx, and an error is an ACME problem document. */
function violation({ what, res }: Sent): string | null {
  if (res.status >= 500) return `status ${res.status}: ${res.text.slice(0, 300)}\n    log: ${errorLog.at(-1)?.slice(0, 1500) ?? '(none)'}`;
  if (res.status < 400) return null;
  if (res.contentType !== 'application/problem+json') return `status ${res.status} with Content-Type ${res.contentType}`;
  if (what.startsWith('HEAD ')) return null; // a HEAD answer has the headers of a problem and no body
  const body = res.body as { type?: unknown; status?: unknown; detail?: unknown };
  if (typeof body !== 'object' || body === null) return `status ${res.status}: the problem is not JSON`;
  if (typeof body.type !== 'string' || !body.type.startsWith('urn:ietf:params:acme:error:')) return `problem type ${String(body.type)}`;
  if (body.status !== res.status) return `problem status ${String(body.status)} on HTTP ${res.status}`;
  if (typeof body.detail !== 'string') return 'problem without a detail';
  return null;
}

/** Puts back what a case may have changed for good, so later cases still reach the deep layers. */
async function repair({ what, res }: Sent): Promise<void> {
  if (res.status >= 400) return;
  if (what.startsWith('account') || what.startsWith('keyChange')) {
    if ((await alice.postAsGet(alice.kid!)).status !== 200) await rebuild('account');
  } else if (what.startsWith('finalize')) await rebuild('ready');
  else if (what.startsWith('authz') || what.startsWith('challenge')) await rebuild('pending');
}

function gcAndHeap(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe(`fuzz: ${CASES} mutated requests over every endpoint (seed ${SEED})`, () => {
  it('never answers 5xx, always a problem document, never hangs; the heap stays bounded and the gateway keeps working', async () => {
    const r = prng(SEED);
    const heapBefore = gcAndHeap();
    const started = Date.now();
    const violations: string[] = [];
    const types = new Map<string, number>();
    const statuses = new Map<number, number>();
    for (let n = 0; n < CASES; n++) {
      let sent: Sent;
      try {
        sent = await fuzzCase(r);
      } catch (err) {
        violations.push(`case ${n}: ${(err as Error).message}`);
        break;
      }
      const bad = violation(sent);
      if (bad) violations.push(`case ${n} (seed ${SEED}): ${bad}\n    sent: ${sent.what}`);
      statuses.set(sent.res.status, (statuses.get(sent.res.status) ?? 0) + 1);
      if (sent.res.status >= 400 && !sent.what.startsWith('HEAD ')) {
        const type = String((sent.res.body as { type?: string }).type).replace('urn:ietf:params:acme:error:', '');
        types.set(type, (types.get(type) ?? 0) + 1);
      }
      await repair(sent);
    }
    const elapsedMs = Date.now() - started;
    expect(violations.slice(0, 10), violations.slice(0, 10).join('\n')).toEqual([]);

    // The mutations must reach past the first checks: each of these answers comes from a later layer
    // (signature, nonce, account, payload schema, domain rules, CSR), so a fuzz stuck at "malformed"
    // would fail here.
    const summary = `statuses ${JSON.stringify([...statuses])} types ${JSON.stringify([...types])} in ${elapsedMs} ms, ${rebuilds} rebuilds`;
    for (const type of ['malformed', 'badNonce', 'unauthorized', 'badSignatureAlgorithm', 'badPublicKey', 'accountDoesNotExist', 'rejectedIdentifier', 'badCSR', 'badRevocationReason']) {
      expect(types.get(type) ?? 0, `${type} never seen: ${summary}`).toBeGreaterThan(0);
    }
    const successes = [...statuses].filter(([s]) => s < 300).reduce((sum, [, k]) => sum + k, 0);
    expect(successes, summary).toBeGreaterThan(CASES / 20);

    // Still alive and working: a complete issuance, and /livez.
    expect((await t.admin('/livez')).status).toBe(200);
    const after = await AcmeTestClient.withAccount(t);
    await expect(after.issue(['after-fuzz.example.com'])).resolves.toMatchObject({ certUrl: expect.any(String) });
    const grown = gcAndHeap() - heapBefore;
    console.log(`fuzz: ${summary}; heap ${(heapBefore / 2 ** 20).toFixed(1)} MiB before, ${(grown / 2 ** 20).toFixed(1)} MiB more after`);
    expect(grown, `heap grew by ${grown} bytes`).toBeLessThan(HEAP_GROWTH_BOUND);
  }, 120_000);
});
