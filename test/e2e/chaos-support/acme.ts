import { createHash, webcrypto } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, FlattenedSign, generateKeyPair, type JWK } from 'jose';
import * as x509 from '@peculiar/x509';

// A small ACME client (RFC 8555) for the chaos and crash tests. Unlike a packaged client it treats
// the server as something that may vanish at any moment: every request is retried through connection
// errors, 5xx answers and badNonce until a caller-given deadline, and a POST whose answer was lost is
// followed by re-reading the resource instead of being trusted or blindly repeated.

export interface AcmeResponse {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

export interface ClientStats {
  requests: number;
  connectionErrors: number;
  serverErrors: number;
  badNonces: number;
}

/** One request the client had to retry, kept so a test can ask whether something explains it. */
export interface ClientError {
  kind: 'connection' | 'server' | 'badNonce';
  method: string;
  url: string;
  /** The socket error code (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, ...), an HTTP status, or the error name. */
  code: string;
  message: string;
  /** Epoch ms when the request was sent and when it failed. */
  sentAt: number;
  failedAt: number;
}

type JsonObject = Record<string, unknown>;

interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
}

export class TransientError extends Error {}

export class AcmeTestClient {
  private dir: Directory | undefined;
  private nonces: string[] = [];
  private kid: string | undefined;
  private keys: webcrypto.CryptoKeyPair | undefined;
  private jwk: JWK | undefined;
  thumbprint = '';
  readonly stats: ClientStats = { requests: 0, connectionErrors: 0, serverErrors: 0, badNonces: 0 };
  /** Every error the client retried through (connection errors, 5xx answers, badNonce). */
  readonly errors: ClientError[] = [];

  constructor(
    private readonly directoryUrl: string,
    private readonly opts: { requestTimeoutMs?: number; retryPauseMs?: number } = {},
  ) {}

  /** Creates the account (retried until `deadline`, epoch ms). */
  async register(deadline: number): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    this.keys = { privateKey, publicKey } as webcrypto.CryptoKeyPair;
    this.jwk = await exportJWK(publicKey);
    this.thumbprint = await calculateJwkThumbprint(this.jwk, 'sha256');
    const res = await this.post('newAccount', { termsOfServiceAgreed: true }, deadline, { useJwk: true });
    if (res.status !== 200 && res.status !== 201) throw new Error(`newAccount → ${res.status} ${res.text}`);
    const location = res.headers.get('location');
    if (!location) throw new Error('newAccount without Location');
    this.kid = location;
  }

  /** GET with retries through connection errors / 5xx. */
  async get(url: string, deadline: number): Promise<AcmeResponse> {
    return this.retrying(deadline, async () => {
      const res = await this.fetchOnce(url, { method: 'GET' });
      if (res.status >= 500) throw new TransientError(`GET ${url} → ${res.status}`);
      return res;
    });
  }

  /**
   * A signed POST (payload null = POST-as-GET). Retried through connection errors, 5xx and badNonce.
   * `resource` is a URL or a directory key.
   */
  async post(resource: string, payload: JsonObject | null, deadline: number, o: { useJwk?: boolean } = {}): Promise<AcmeResponse> {
    return this.retrying(deadline, async () => {
      const url = resource.startsWith('http') ? resource : ((await this.directory(deadline)) as unknown as Record<string, string>)[resource]!;
      const nonce = await this.nonce(deadline);
      const header: Record<string, unknown> = { alg: 'ES256', nonce, url };
      if (o.useJwk || !this.kid) header.jwk = this.jwk;
      else header.kid = this.kid;
      const bytes = payload === null ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(payload));
      const jws = await new FlattenedSign(bytes).setProtectedHeader(header as never).sign(this.keys!.privateKey);
      const sentAt = Date.now();
      const res = await this.fetchOnce(url, { method: 'POST', headers: { 'content-type': 'application/jose+json' }, body: JSON.stringify(jws) });
      const type = (res.body as JsonObject | null)?.type;
      if (res.status === 400 && type === 'urn:ietf:params:acme:error:badNonce') {
        this.stats.badNonces++;
        this.errors.push({ kind: 'badNonce', method: 'POST', url, code: '400 badNonce', message: res.text.slice(0, 200), sentAt, failedAt: Date.now() });
        throw new TransientError('badNonce');
      }
      if (res.status >= 500) throw new TransientError(`POST ${url} → ${res.status} ${res.text.slice(0, 200)}`);
      return res;
    });
  }

  private async directory(deadline: number): Promise<Directory> {
    if (!this.dir) {
      const res = await this.get(this.directoryUrl, deadline);
      if (res.status !== 200) throw new Error(`directory → ${res.status}`);
      this.dir = res.body as Directory;
    }
    return this.dir;
  }

  private async nonce(deadline: number): Promise<string> {
    const kept = this.nonces.pop();
    if (kept) return kept;
    const dir = await this.directory(deadline);
    const res = await this.fetchOnce(dir.newNonce, { method: 'HEAD' });
    // fetchOnce keeps every Replay-Nonce it sees; take this one back out of the pool, or it would be
    // used a second time later (a badNonce of the client's own making).
    const n = this.nonces.pop();
    if (!n) throw new TransientError(`newNonce → ${res.status} without Replay-Nonce`);
    return n;
  }

  private async fetchOnce(url: string, init: RequestInit): Promise<AcmeResponse> {
    this.stats.requests++;
    const method = init.method ?? 'GET';
    const sentAt = Date.now();
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 15_000) });
      text = await res.text();
    } catch (e) {
      this.stats.connectionErrors++;
      const err = e as Error & { cause?: { code?: string } };
      const code = err.cause?.code ?? err.name;
      this.errors.push({ kind: 'connection', method, url, code, message: err.message, sentAt, failedAt: Date.now() });
      throw new TransientError(`${method} ${url}: ${err.message} ${code}`);
    }
    if (res.status >= 500) {
      this.stats.serverErrors++;
      this.errors.push({ kind: 'server', method, url, code: String(res.status), message: text.slice(0, 200), sentAt, failedAt: Date.now() });
    }
    const nonce = res.headers.get('replay-nonce');
    if (nonce) this.nonces.push(nonce);
    let body: unknown = null;
    if (text && /json/.test(res.headers.get('content-type') ?? '')) {
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
    }
    return { status: res.status, headers: res.headers, body, text };
  }

  private async retrying<T>(deadline: number, fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof TransientError) || Date.now() > deadline) throw e;
        await sleep(Math.min(1_000, (this.opts.retryPauseMs ?? 100) * 2 ** Math.min(i, 4)));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------

export interface CertKey {
  keys: webcrypto.CryptoKeyPair;
  csrDer: Buffer;
  /** Hex SHA-256 of the SubjectPublicKeyInfo DER, the way the gateway and the simulator record it. */
  spkiSha256: string;
}

/** A fresh P-256 key and a CSR for the given IP addresses (RFC 8738). */
export async function newCsr(ips: string[]): Promise<CertKey> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension(ips.map((value) => ({ type: 'ip' as const, value })))],
  });
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  return { keys, csrDer: Buffer.from(csr.rawData), spkiSha256: createHash('sha256').update(spki).digest('hex') };
}

export interface OrderOutcome {
  label: string;
  orderUrl?: string;
  orderId?: string;
  /** Last status the client saw. */
  status: string;
  /** Whether finalize was (possibly) sent: the order is expected to end valid or invalid. */
  finalized: boolean;
  error?: { type?: string; detail?: string };
  certPem?: string;
  spkiSha256: string;
  /** Where the client stopped when it gave up (deadline) or failed. */
  note?: string;
  ms: number;
  /** From sending finalize to seeing valid/invalid (or giving up). */
  issuanceMs?: number;
}

export interface Http01Tokens {
  set(token: string, keyAuthorization: string): void;
}

/**
 * One order from newOrder to the downloaded certificate, for the identifier 127.0.0.1 validated by
 * http-01. Never throws: whatever happens ends up in the outcome, so a test can look at all orders.
 */
export async function runOrder(client: AcmeTestClient, tokens: Http01Tokens, label: string, deadline: number, pollMs = 250): Promise<OrderOutcome> {
  const started = Date.now();
  const key = await newCsr(['127.0.0.1']);
  const out: OrderOutcome = { label, status: 'none', finalized: false, spkiSha256: key.spkiSha256, ms: 0 };
  try {
    const created = await client.post('newOrder', { identifiers: [{ type: 'ip', value: '127.0.0.1' }] }, deadline);
    if (created.status !== 201) throw new Error(`newOrder → ${created.status} ${created.text}`);
    out.orderUrl = created.headers.get('location') ?? undefined;
    if (!out.orderUrl) throw new Error('newOrder without Location');
    out.orderId = out.orderUrl.split('/').pop();
    let order = created.body as JsonObject;
    out.status = String(order.status);

    for (const authzUrl of order.authorizations as string[]) {
      const authz = (await client.post(authzUrl, null, deadline)).body as JsonObject;
      if (authz.status !== 'pending') continue;
      const challenge = (authz.challenges as JsonObject[]).find((c) => c.type === 'http-01');
      if (!challenge) throw new Error('no http-01 challenge');
      tokens.set(String(challenge.token), `${String(challenge.token)}.${client.thumbprint}`);
      const res = await client.post(String(challenge.url), {}, deadline);
      if (res.status !== 200) throw new Error(`challenge → ${res.status} ${res.text}`);
    }

    // Wait for ready (or invalid).
    order = await pollOrder(client, out.orderUrl, deadline, pollMs, (s) => s !== 'pending');
    out.status = String(order.status);
    if (order.status === 'ready') {
      out.finalized = true;
      const finalizeAt = Date.now();
      const res = await client.post(String(order.finalize), { csr: key.csrDer.toString('base64url') }, deadline);
      // 403 orderNotReady after a lost answer: our first finalize got through; the order tells the rest.
      if (res.status !== 200 && !(res.status === 403 && /orderNotReady/.test(res.text))) throw new Error(`finalize → ${res.status} ${res.text}`);
      try {
        order = await pollOrder(client, out.orderUrl, deadline, pollMs, (s) => s === 'valid' || s === 'invalid');
      } finally {
        out.issuanceMs = Date.now() - finalizeAt;
      }
      out.status = String(order.status);
    }
    if (order.status === 'invalid') out.error = order.error as OrderOutcome['error'];
    if (order.status === 'valid') {
      const res = await client.post(String(order.certificate), null, deadline);
      if (res.status !== 200) throw new Error(`certificate → ${res.status} ${res.text}`);
      out.certPem = res.text;
    }
  } catch (e) {
    out.note = (e as Error).message;
  }
  out.ms = Date.now() - started;
  return out;
}

async function pollOrder(client: AcmeTestClient, url: string, deadline: number, pollMs: number, done: (status: string) => boolean): Promise<JsonObject> {
  for (;;) {
    const res = await client.post(url, null, deadline);
    if (res.status !== 200) throw new Error(`order → ${res.status} ${res.text}`);
    const order = res.body as JsonObject;
    if (done(String(order.status))) return order;
    if (Date.now() > deadline) throw new Error(`order still ${String(order.status)} at the deadline`);
    await sleep(pollMs);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
