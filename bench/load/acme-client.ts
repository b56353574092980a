import { calculateJwkThumbprint, exportJWK, FlattenedSign, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import type { HttpClient, HttpResponse } from './http.js';

// A minimal ACME client (RFC 8555) for load generation: ES256 account keys, JWS in flattened JSON
// (§6.2), nonces taken from every Replay-Nonce header (§7.2) and fetched with HEAD only when the pool
// is empty, one retry path for badNonce (§6.5). Nothing here tries to be a general client.

export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
}

export interface AccountKey {
  privateKey: CryptoKey;
  jwk: JWK;
  thumbprint: string;
}

export interface AcmeResult<T = Record<string, unknown>> {
  status: number;
  location: string | undefined;
  body: T;
  raw: HttpResponse;
}

export class AcmeRequestError extends Error {
  constructor(
    readonly step: string,
    readonly status: number,
    readonly problemType: string | undefined,
    detail: string,
  ) {
    super(`${step}: HTTP ${status}${problemType ? ` ${problemType.replace('urn:ietf:params:acme:error:', '')}` : ''}: ${detail}`);
    this.name = 'AcmeRequestError';
  }
}

export async function generateAccountKey(): Promise<AccountKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, thumbprint: await calculateJwkThumbprint(jwk, 'sha256') };
}

const encoder = new TextEncoder();
const JOSE = 'application/jose+json';
const MAX_BAD_NONCE_RETRIES = 5;

export class AcmeConnection {
  private readonly nonces: string[] = [];
  /** How often the server answered badNonce (each was retried). */
  badNonceRetries = 0;
  /** Signed requests sent (every POST, retries included). */
  signedRequests = 0;

  private constructor(
    private readonly http: HttpClient,
    readonly directory: Directory,
  ) {}

  static async open(http: HttpClient, directoryUrl: string): Promise<AcmeConnection> {
    const res = await http.request('GET', directoryUrl);
    if (res.status !== 200) throw new Error(`directory ${directoryUrl}: HTTP ${res.status}`);
    return new AcmeConnection(http, JSON.parse(res.body.toString('utf8')) as Directory);
  }

  private async nonce(): Promise<string> {
    const cached = this.nonces.pop();
    if (cached) return cached;
    const res = await this.http.request('HEAD', this.directory.newNonce);
    const fresh = res.headers['replay-nonce'];
    if (typeof fresh !== 'string') throw new Error(`newNonce: no Replay-Nonce (HTTP ${res.status})`);
    return fresh;
  }

  private keep(res: HttpResponse): void {
    const n = res.headers['replay-nonce'];
    // Bounded: the server hands out one per response, the client uses one per request.
    if (typeof n === 'string' && this.nonces.length < 256) this.nonces.push(n);
  }

  /** A signed POST; `payload` undefined means POST-as-GET (RFC 8555 §6.3). `kid` null means "jwk". */
  async post<T = Record<string, unknown>>(step: string, url: string, key: AccountKey, kid: string | null, payload?: unknown): Promise<AcmeResult<T>> {
    const bytes = payload === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(payload));
    for (let attempt = 0; ; attempt++) {
      const header = { alg: 'ES256', nonce: await this.nonce(), url, ...(kid ? { kid } : { jwk: key.jwk }) };
      const jws = await new FlattenedSign(bytes).setProtectedHeader(header).sign(key.privateKey);
      this.signedRequests++;
      const res = await this.http.request('POST', url, { contentType: JOSE, data: JSON.stringify(jws) });
      this.keep(res);
      const type = String(res.headers['content-type'] ?? '');
      const isJson = type.includes('json');
      const body = (isJson && res.body.length ? JSON.parse(res.body.toString('utf8')) : res.body.toString('utf8')) as T & { type?: string; detail?: string };
      if (res.status >= 400) {
        const problemType = typeof body === 'object' ? body.type : undefined;
        if (problemType === 'urn:ietf:params:acme:error:badNonce' && attempt < MAX_BAD_NONCE_RETRIES) {
          this.badNonceRetries++;
          continue;
        }
        const detail = typeof body === 'object' ? String(body.detail ?? '') : String(body).slice(0, 200);
        throw new AcmeRequestError(step, res.status, problemType, detail);
      }
      const location = typeof res.headers.location === 'string' ? res.headers.location : undefined;
      return { status: res.status, location, body: body as T, raw: res };
    }
  }
}
