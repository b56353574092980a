import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { HttpClient, HttpResponse } from './load/http.js';

// A small synchronous-signing ACME client (ES256 with node:crypto) for the benchmarks that drive one
// operation at a time (request-cost.ts, scale.ts, memory.ts): the client's own cost stays small and
// off the server's CPU. Nonces come from each response's Replay-Nonce; newNonce only when it has none.

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class NodeAcmeClient {
  private nonce: string | null = null;
  kid: string | null = null;
  private readonly key: KeyObject;
  readonly jwk: { kty: string; crv: string; x: string; y: string };
  /** RFC 7638 thumbprint: the key authorization's suffix (RFC 8555 §8.1). */
  readonly thumbprint: string;

  constructor(
    readonly http: HttpClient,
    readonly dir: Record<string, string>,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.key = privateKey;
    const { kty, crv, x, y } = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string };
    this.jwk = { kty, crv, x, y };
    this.thumbprint = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
  }

  static async connect(http: HttpClient, directoryUrl: string): Promise<NodeAcmeClient> {
    const dir = JSON.parse((await http.request('GET', directoryUrl)).body.toString()) as Record<string, string>;
    return new NodeAcmeClient(http, dir);
  }

  take(res: HttpResponse): HttpResponse {
    const n = res.headers['replay-nonce'];
    if (typeof n === 'string') this.nonce = n;
    return res;
  }

  async head(url: string): Promise<HttpResponse> {
    return this.take(await this.http.request('HEAD', url));
  }

  /** A signed POST (payload null: POST-as-GET); an error status throws with the problem. */
  async post(url: string, payload: unknown): Promise<HttpResponse> {
    if (!this.nonce) await this.head(this.dir.newNonce!);
    const header = { alg: 'ES256', nonce: this.nonce, url, ...(this.kid ? { kid: this.kid } : { jwk: this.jwk }) };
    this.nonce = null;
    const protectedB64 = b64u(JSON.stringify(header));
    const payloadB64 = payload === null ? '' : b64u(JSON.stringify(payload));
    const signature = sign('sha256', Buffer.from(`${protectedB64}.${payloadB64}`), { key: this.key, dsaEncoding: 'ieee-p1363' });
    const res = this.take(
      await this.http.request('POST', url, { contentType: 'application/jose+json', data: JSON.stringify({ protected: protectedB64, payload: payloadB64, signature: b64u(signature) }) }),
    );
    if (res.status >= 400) throw new Error(`${url}: HTTP ${res.status} ${res.body.toString()}`);
    return res;
  }

  /** POST and parse the JSON answer. */
  async postJson<T = Record<string, unknown>>(url: string, payload: unknown): Promise<{ res: HttpResponse; body: T }> {
    const res = await this.post(url, payload);
    return { res, body: JSON.parse(res.body.toString()) as T };
  }

  async register(): Promise<void> {
    const res = await this.post(this.dir.newAccount!, { termsOfServiceAgreed: true });
    this.kid = res.headers.location as string;
  }
}
