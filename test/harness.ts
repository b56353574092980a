import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, FlattenedSign, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { AcmeProblem } from '../src/acme/problems.js';
import { parseConfig } from '../src/config/load.js';
import { buildGateway, type Gateway, type GatewayOverrides } from '../src/deps.js';
import { ROUTES, type RouteKind } from '../src/acme/links.js';
import { makeCsr } from '../src/pca/make-csr.js';
import { silentLogger } from '../src/platform/logger.js';
import type { ChallengeType, ChallengeValidator, ValidationOutcome, ValidationRequest } from '../src/validation/types.js';
import { createTestDatabase, type TestDatabase } from './support/postgres-db.js';

/** Which store the gateways of this run use (vitest.config.ts sets it for the "postgres" project). */
export const TEST_STORE: 'sqlite' | 'postgres' = process.env.ACME_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

// Route-test harness (ARCHITECTURE.md §Tests): the real gateway graph from deps.ts on a temporary
// SQLite file, with the embedded PCA simulator on 127.0.0.1:0 and fake challenge validators the test
// controls. Requests go through app.request(); nothing listens except the simulator.
// In the "postgres" vitest project (ACME_TEST_STORE=postgres) each gateway gets a fresh database
// on the shared test cluster instead, so the same route tests run on both stores.

export const EXTERNAL_URL = 'https://acme.test';
export const PROBLEM_JSON = 'application/problem+json';
export const JSON_TYPE = 'application/json';
export const PEM_CHAIN = 'application/pem-certificate-chain';
export const JOSE_JSON = 'application/jose+json';
export const URN = (type: string) => `urn:ietf:params:acme:error:${type}`;

// ---------------------------------------------------------------- fake validators

export interface ValidatorCall {
  type: ChallengeType;
  identifier: ValidationRequest['identifier'];
  token: string;
  keyAuthorization: string;
}

/**
 * One ChallengeValidator per type. Every validation is valid unless the test said otherwise, for a
 * type or for one identifier value; `hold()` keeps validations waiting until released.
 */
export class FakeValidators {
  readonly calls: ValidatorCall[] = [];
  private readonly byType = new Map<ChallengeType, AcmeProblem>();
  private readonly byValue = new Map<string, AcmeProblem>();
  private gate: Promise<void> | null = null;

  /** Validations of this type (or, with `value`, of this identifier value) fail with the problem. */
  fail(problem: AcmeProblem, opts: { type?: ChallengeType; value?: string } = {}): void {
    if (opts.value !== undefined) this.byValue.set(opts.value, problem);
    else if (opts.type) this.byType.set(opts.type, problem);
    else for (const t of ['http-01', 'dns-01', 'tls-alpn-01'] as const) this.byType.set(t, problem);
  }

  reset(): void {
    this.byType.clear();
    this.byValue.clear();
    this.calls.length = 0;
    this.gate = null;
  }

  /** Validations wait until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((r) => (release = r));
    return () => {
      this.gate = null;
      release();
    };
  }

  list(): ChallengeValidator[] {
    return (['http-01', 'dns-01', 'tls-alpn-01'] as const).map((type) => ({
      type,
      validate: async (req: ValidationRequest): Promise<ValidationOutcome> => {
        this.calls.push({ type, identifier: req.identifier, token: req.token, keyAuthorization: req.keyAuthorization });
        if (this.gate) await this.gate;
        const problem = this.byValue.get(req.identifier.value) ?? this.byType.get(type);
        const record = { hostname: req.identifier.value };
        return problem ? { valid: false, problem, record } : { valid: true, record };
      },
    }));
  }
}

// ---------------------------------------------------------------- the gateway

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface TestGatewayOptions {
  /** Raw config merged over the harness defaults (per section; `directories` and `policy` too). */
  config?: Record<string, Record<string, unknown>>;
  overrides?: Omit<GatewayOverrides, 'validators'>;
  /** Reuse a directory (restart tests); default: a fresh temp dir, removed by dispose(). */
  dir?: string;
  /** On PostgreSQL: reuse a database (restart tests); default: a fresh one, dropped by dispose(). */
  database?: TestDatabase;
  /** The store to run on, when a test needs one in particular (default: TEST_STORE). */
  store?: 'sqlite' | 'postgres';
}

export interface TestGateway {
  gw: Gateway;
  dir: string;
  sqlitePath: string;
  /** The PostgreSQL database, when the run is on PostgreSQL (TEST_STORE). */
  database: TestDatabase | null;
  validators: FakeValidators;
  /** Absolute URL of a route (ids for resource kinds), in the default directory. */
  url(kind: RouteKind, id?: string): string;
  /** Absolute URL of a route in a named directory (issue 9: <base>/<name>/...). */
  urlIn(directory: string, kind: RouteKind, id?: string): string;
  /**
   * A request through app.request(); a path is made absolute on the external URL. `from`: the
   * client's socket address as @hono/node-server hands it over (c.env.incoming); none by default.
   */
  request(pathOrUrl: string, init?: RequestInit, from?: string): Promise<Response>;
  /** A request to the admin listener's app (/metrics, /readyz, /api/…), with the admin token unless `token: null`. */
  admin(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  /** Closes the gateway and builds a new one on the same SQLite file and simulator data. */
  restart(): Promise<TestGateway>;
  /** Closes the gateway (idempotent). */
  close(): Promise<void>;
  /** Closes and removes the temp dir. */
  dispose(): Promise<void>;
}

function mergeSections(base: Record<string, Record<string, unknown>>, extra: Record<string, Record<string, unknown>> = {}) {
  const out: Record<string, Record<string, unknown>> = { ...base };
  for (const [k, v] of Object.entries(extra)) out[k] = { ...(base[k] ?? {}), ...v };
  return out;
}

export async function startTestGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'acme-routes-'));
  const sqlitePath = join(dir, 'gateway.sqlite');
  const database = (opts.store ?? TEST_STORE) === 'postgres' ? (opts.database ?? (await createTestDatabase())) : null;
  const raw = mergeSections(
    {
      server: { listen: '127.0.0.1:0', externalUrl: EXTERNAL_URL, tls: { mode: 'none' }, finalizeWaitMs: 3000 },
      // With PostgreSQL the EAB key-encryption key would default to ./data: keep it in the temp dir.
      ...(database ? { storage: { postgres: database.url }, acme: { eabKekFile: join(dir, 'eab-kek.key') } } : { storage: { sqlite: sqlitePath } }),
      pca: { kind: 'simulator' },
      simulator: { listen: '127.0.0.1:0', dataDir: join(dir, 'pca') },
      logging: { level: 'silent' },
      // The admin token beside the database in the temp dir (with PostgreSQL it would default to ./data).
      admin: { tokenFile: join(dir, 'admin.token') },
    },
    opts.config,
  );
  const config = parseConfig(raw);
  const validators = new FakeValidators();
  const gw = await buildGateway(config, {
    logger: silentLogger(),
    jobPollMs: 20,
    ...opts.overrides,
    validators: validators.list(),
  });
  let closed = false;
  const t: TestGateway = {
    gw,
    dir,
    sqlitePath,
    database,
    validators,
    url: (kind, id) => gw.linker.url(kind, undefined, id),
    urlIn: (directory, kind, id) => gw.linker.url(kind, directory, id),
    request: async (pathOrUrl, init, from) =>
      gw.app.request(/^https?:/.test(pathOrUrl) ? pathOrUrl : `${EXTERNAL_URL}${pathOrUrl}`, init, from === undefined ? undefined : ({ incoming: { socket: { remoteAddress: from } } } as never)),
    admin: async (path, init = {}) => {
      const { token = gw.admin.token.token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== null) headers.set('Authorization', `Bearer ${token}`);
      return gw.admin.app.request(`http://127.0.0.1${path}`, { ...rest, headers });
    },
    restart: async () => {
      await t.close();
      return startTestGateway({ ...opts, dir, ...(database ? { database } : {}) });
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await gw.close();
    },
    dispose: async () => {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
      await database?.drop();
    },
  };
  return t;
}

// ---------------------------------------------------------------- responses

export interface AcmeResponse<T = any> {
  status: number;
  headers: Headers;
  /** Media type without parameters. */
  contentType: string | null;
  /** Parsed JSON for JSON and problem bodies, else the text. */
  body: T;
  text: string;
  location: string | null;
  nonce: string | null;
  links: { url: string; rel: string }[];
}

/** Splits Link header values (Fetch joins repeated fields with ", "). */
export function parseLinks(value: string | null): { url: string; rel: string }[] {
  if (!value) return [];
  return value
    .split(/,\s*(?=<)/)
    .map((part) => /^<([^>]*)>\s*;\s*rel="([^"]*)"/.exec(part.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ url: m[1]!, rel: m[2]! }));
}

export async function readResponse<T = any>(res: Response): Promise<AcmeResponse<T>> {
  const text = await res.text();
  const contentType = res.headers.get('content-type')?.split(';')[0]!.trim() ?? null;
  let body: unknown = text;
  if (contentType === JSON_TYPE || contentType === PROBLEM_JSON) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return {
    status: res.status,
    headers: res.headers,
    contentType,
    body: body as T,
    text,
    location: res.headers.get('location'),
    nonce: res.headers.get('replay-nonce'),
    links: parseLinks(res.headers.get('link')),
  };
}

// ---------------------------------------------------------------- the JWS client

export type AccountAlg = 'ES256' | 'RS256';

export interface AccountKey {
  alg: AccountAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function generateAccountKey(alg: AccountAlg = 'ES256'): Promise<AccountKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey, publicJwk: await exportJWK(publicKey) };
}

export const b64u = (data: string | Uint8Array): string => Buffer.from(data).toString('base64url');

export interface FlattenedJwsBody {
  protected: string;
  payload: string;
  signature: string;
}

/**
 * A flattened JWS built by hand, for what jose refuses to produce (alg "none", RSA-1024, odd headers).
 * `signer` gets the signing input bytes and returns the signature ('' when omitted).
 */
export function handmadeJws(header: Record<string, unknown> | string, payload: unknown, signer?: (input: Buffer) => Buffer): FlattenedJwsBody {
  const protectedB64 = typeof header === 'string' ? header : b64u(JSON.stringify(header));
  const payloadB64 = payload === '' ? '' : b64u(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const signature = signer ? signer(Buffer.from(`${protectedB64}.${payloadB64}`)).toString('base64url') : '';
  return { protected: protectedB64, payload: payloadB64, signature };
}

export interface SignOptions {
  /** Sign with an embedded jwk instead of the account kid. */
  jwk?: boolean;
  /** Override the kid (default: the client's account URL). */
  kid?: string;
  /** Use this nonce instead of a fresh one. */
  nonce?: string;
  /** Members merged into the protected header last (set one to undefined to drop it). */
  header?: Record<string, unknown>;
  /** Sign with another key. */
  key?: AccountKey;
}

export interface PostOptions extends SignOptions {
  contentType?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

export interface Identifier {
  type: string;
  value: string;
}

export type CsrOptions = NonNullable<Parameters<typeof makeCsr>[1]>;

/** A small ACME client for route tests: builds flattened JWS with jose and talks through app.request(). */
export class AcmeTestClient {
  kid: string | null = null;
  /** The address its requests come from (the socket's, for per-address rate limits); none by default. */
  from: string | undefined = undefined;

  constructor(
    readonly t: TestGateway,
    public key: AccountKey,
    /** The directory it talks to (undefined: the default one at /directory). */
    readonly directory?: string,
  ) {}

  static async create(t: TestGateway, alg: AccountAlg = 'ES256', directory?: string): Promise<AcmeTestClient> {
    return new AcmeTestClient(t, await generateAccountKey(alg), directory);
  }

  /** A client that has an account already. */
  static async withAccount(t: TestGateway, alg: AccountAlg = 'ES256', directory?: string): Promise<AcmeTestClient> {
    const c = await AcmeTestClient.create(t, alg, directory);
    const res = await c.newAccount();
    if (res.status !== 201) throw new Error(`newAccount failed: ${res.status} ${res.text}`);
    return c;
  }

  /** A URL of this client's directory. */
  url(kind: RouteKind, id?: string): string {
    return this.directory === undefined ? this.t.url(kind, id) : this.t.urlIn(this.directory, kind, id);
  }

  async nonce(): Promise<string> {
    const res = await this.t.request(this.url('newNonce'), { method: 'HEAD' });
    const nonce = res.headers.get('replay-nonce');
    if (!nonce) throw new Error('HEAD new-nonce gave no Replay-Nonce');
    return nonce;
  }

  /** A flattened JWS over `payload` ('' for POST-as-GET; strings are sent as they are). */
  async sign(url: string, payload: unknown, opts: SignOptions = {}): Promise<FlattenedJwsBody> {
    const key = opts.key ?? this.key;
    const header: Record<string, unknown> = { alg: key.alg, nonce: opts.nonce ?? (await this.nonce()), url };
    if (opts.jwk) header.jwk = key.publicJwk;
    else header.kid = opts.kid ?? this.kid ?? undefined;
    Object.assign(header, opts.header ?? {});
    for (const k of Object.keys(header)) if (header[k] === undefined) delete header[k];
    const bytes = new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload));
    const jws = await new FlattenedSign(bytes).setProtectedHeader(header as never).sign(key.privateKey);
    return { protected: jws.protected!, payload: jws.payload, signature: jws.signature };
  }

  /** POSTs a body as it is (string or object → JSON), with the JOSE content type unless told otherwise. */
  async postRaw(url: string, body: NonNullable<RequestInit['body']> | object, opts: { contentType?: string | null; headers?: Record<string, string> } = {}): Promise<AcmeResponse> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.contentType !== null) headers['Content-Type'] = opts.contentType ?? JOSE_JSON;
    const isPlainObject = typeof body === 'object' && body !== null && !(body instanceof Uint8Array) && !(body instanceof ReadableStream);
    const init: RequestInit & { duplex?: 'half' } = { method: 'POST', headers, body: isPlainObject ? JSON.stringify(body) : (body as RequestInit['body']) };
    if (body instanceof ReadableStream) init.duplex = 'half';
    return readResponse(await this.t.request(url, init, this.from));
  }

  async post(url: string, payload: unknown, opts: PostOptions = {}): Promise<AcmeResponse> {
    const jws = await this.sign(url, payload, opts);
    return this.postRaw(url, jws, { ...(opts.contentType !== undefined ? { contentType: opts.contentType } : {}), ...(opts.headers ? { headers: opts.headers } : {}) });
  }

  postAsGet(url: string, opts: PostOptions = {}): Promise<AcmeResponse> {
    return this.post(url, '', opts);
  }

  async newAccount(payload: Record<string, unknown> = { termsOfServiceAgreed: true, contact: ['mailto:admin@example.com'] }): Promise<AcmeResponse> {
    const res = await this.post(this.url('newAccount'), payload, { jwk: true });
    if ((res.status === 200 || res.status === 201) && res.location) this.kid = res.location;
    return res;
  }

  newOrder(identifiers: Array<Identifier | string>, extra: Record<string, unknown> = {}): Promise<AcmeResponse> {
    const ids = identifiers.map((i) => (typeof i === 'string' ? { type: 'dns', value: i } : i));
    return this.post(this.url('newOrder'), { identifiers: ids, ...extra });
  }

  respondChallenge(url: string, payload: unknown = {}): Promise<AcmeResponse> {
    return this.post(url, payload);
  }

  /** POST-as-GET `url` until `done(body)` holds or the time is up; returns the last response. */
  async poll(url: string, done: (body: any) => boolean, timeoutMs = 5000): Promise<AcmeResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await this.postAsGet(url);
      if (res.status !== 200 || done(res.body) || Date.now() > deadline) return res;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Answers one challenge per authorization of the order (http-01, or dns-01 for wildcards) and waits for every authz to settle. */
  async completeAuthorizations(order: { authorizations: string[] }, prefer: string = 'http-01'): Promise<AcmeResponse[]> {
    const authzs: AcmeResponse[] = [];
    for (const authzUrl of order.authorizations) {
      const authz = await this.postAsGet(authzUrl);
      const challenges = authz.body.challenges as Array<{ type: string; url: string }>;
      const ch = challenges.find((c) => c.type === prefer) ?? challenges[0]!;
      const res = await this.respondChallenge(ch.url);
      if (res.status !== 200) throw new Error(`challenge POST failed: ${res.status} ${res.text}`);
      authzs.push(await this.poll(authzUrl, (b) => b.status !== 'pending'));
    }
    return authzs;
  }

  /** A CSR for `names`, base64url DER, as finalize wants it. */
  static async csr(names: string[], opts: CsrOptions = {}): Promise<string> {
    const { csrPem } = await makeCsr(names, opts);
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    return der.toString('base64url');
  }

  async finalize(finalizeUrl: string, names: string[], csrOpts: CsrOptions = {}): Promise<AcmeResponse> {
    return this.post(finalizeUrl, { csr: await AcmeTestClient.csr(names, csrOpts) });
  }

  download(certUrl: string): Promise<AcmeResponse<string>> {
    return this.postAsGet(certUrl);
  }

  /** The whole flow: new order, every authz valid, finalize, wait for valid. */
  async issue(identifiers: Array<Identifier | string>, csrNames?: string[]): Promise<{ orderUrl: string; order: any; certUrl: string }> {
    const created = await this.newOrder(identifiers);
    if (created.status !== 201) throw new Error(`newOrder failed: ${created.status} ${created.text}`);
    const orderUrl = created.location!;
    await this.completeAuthorizations(created.body, 'http-01');
    const ready = await this.poll(orderUrl, (b) => b.status === 'ready');
    if (ready.body.status !== 'ready') throw new Error(`order not ready: ${ready.text}`);
    const names = csrNames ?? (created.body.identifiers as Identifier[]).map((i) => i.value);
    const fin = await this.finalize(ready.body.finalize, names);
    if (fin.status !== 200) throw new Error(`finalize failed: ${fin.status} ${fin.text}`);
    const order = await this.poll(orderUrl, (b) => b.status === 'valid' || b.status === 'invalid', 15_000);
    if (order.body.status !== 'valid') throw new Error(`order did not become valid: ${order.text}`);
    return { orderUrl, order: order.body, certUrl: order.body.certificate };
  }
}

/** Path of a route pattern with the id filled in (for raw requests). */
export const routePath = (kind: RouteKind, id = 'x') => ROUTES[kind].replace(':id', id);

export type { DeepPartial };
