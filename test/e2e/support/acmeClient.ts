import http from 'node:http';
import https from 'node:https';
import acme from 'acme-client';

// Driver for the npm `acme-client` (5.4), in-process. Trust for the ACME server's https is set on the
// library's shared axios instance (spec §2: `acme.axios.defaults.httpsAgent`), which is global to the
// worker — acceptable because e2e files run one at a time (fileParallelism: false).

export { acme };

export function trustAcmeServerCa(caPem: string | Buffer): void {
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: caPem });
}

/** A tiny http-01 responder: GET /.well-known/acme-challenge/<token> → key authorization. */
export interface Http01Responder {
  port: number;
  set(token: string, keyAuthorization: string): void;
  remove(token: string): void;
  /** Tokens that were fetched at least once (i.e. the server really validated). */
  served(): string[];
  close(): Promise<void>;
}

export function startHttp01Responder(port: number, host = '127.0.0.1'): Promise<Http01Responder> {
  const tokens = new Map<string, string>();
  const served = new Set<string>();
  const prefix = '/.well-known/acme-challenge/';
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    const token = url.startsWith(prefix) ? url.slice(prefix.length) : undefined;
    const keyAuth = token !== undefined ? tokens.get(token) : undefined;
    if (token === undefined || keyAuth === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    served.add(token);
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end(keyAuth);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({
        port,
        set: (t, k) => void tokens.set(t, k),
        remove: (t) => void tokens.delete(t),
        served: () => [...served],
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

export interface AcmeClientIssueResult {
  /** PEM chain as returned by the server (leaf first). */
  certificatePem: string;
  keyPem: string;
  accountUrl: string;
}

/**
 * `client.auto()` with http-01 answered by `responder`. skipChallengeVerification: acme-client would
 * otherwise fetch the token itself through the *system* resolver, which does not know the test names.
 */
export async function acmeClientAutoHttp01(
  client: InstanceType<typeof acme.Client>,
  responder: Http01Responder,
  domains: string[],
  opts: { email?: string; /** The certificate key (default: acme-client's RSA 2048). */ keyPem?: Buffer } = {},
): Promise<AcmeClientIssueResult> {
  const [keyPem, csr] = await acme.crypto.createCsr({ commonName: domains[0], altNames: domains }, opts.keyPem);
  const certificatePem = await client.auto({
    csr,
    email: opts.email,
    termsOfServiceAgreed: true,
    challengePriority: ['http-01'],
    skipChallengeVerification: true,
    challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
      responder.set(challenge.token, keyAuthorization);
    },
    challengeRemoveFn: async (_authz, challenge) => {
      responder.remove(challenge.token);
    },
  });
  return { certificatePem, keyPem: keyPem.toString(), accountUrl: client.getAccountUrl() };
}

/** Raw signed POST through acme-client's (undocumented) HttpClient, to look at status/headers/type. */
export interface RawAcmeResponse {
  status: number;
  headers: Record<string, string | undefined>;
  data: unknown;
}

interface InternalHttpClient {
  getResourceUrl(resource: string): Promise<string>;
  signedRequest(url: string, payload: unknown, opts?: { kid?: string | null }): Promise<RawAcmeResponse>;
}

export function internalHttp(client: InstanceType<typeof acme.Client>): InternalHttpClient {
  return (client as unknown as { http: InternalHttpClient }).http;
}
