import 'reflect-metadata'; // first: @peculiar/x509 (through tsyringe) needs it before it loads
import { createHash, createPublicKey, randomBytes, verify as verifySignature, type JsonWebKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkCsr } from '../src/acme/csr.js';
import { toPem } from '../src/acme/pem.js';
import { NcpPcaClient } from '../src/pca/ncp-client.js';
import { loadOrCreateCa, serialHex } from '../src/pca/simulator/ca.js';
import { issueLeaf, parseCsr } from '../src/pca/simulator/leaf.js';
import { startSimulatorMaybeThreaded } from '../src/pca/simulator/thread.js';
import { systemClock } from '../src/platform/clock.js';
import { cryptoRandom } from '../src/platform/random.js';
import { createDnsResolver } from '../src/platform/dns.js';
import { createLogger } from '../src/platform/logger.js';
import { createHttp01Validator } from '../src/validation/index.js';
import { makeSelfSigned } from './self-signed.js';

// `node dist/bench/floor-server.js --dns HOST:PORT --http-port N [--listen 127.0.0.1:0] [--in-process-ca]`: the floor
// under issue 11's CPU target, measured rather than added up. An ACME server that does only what
// no server meeting the issue can skip, for acmeload's flow (newAccount, newOrder, authz, challenge,
// authz poll, finalize, certificate): Node's HTTPS, the ES256 JWS check with its nonce and url, the
// real http-01 validation (the gateway's validator and resolver), the CSR check (the gateway's), and
// the signature from the embedded PCA simulator on its own thread through the real NCP client
// (signature v2 over loopback HTTP). Everything else the gateway does is left out: no database (the
// state is in Maps and is lost on exit), no rate limits, policy, logs, metrics, audit or problem
// documents beyond a status code. A benchmark fixture, never a product path: bench/floor-vs-pebble.sh
// runs it beside Pebble under the same acmeload load as vs-pebble.sh.

type Account = { id: string; key: KeyObject; thumbprint: string };
type Challenge = { id: string; token: string; status: 'pending' | 'processing' | 'valid' | 'invalid'; authzId: string };
type Authz = { id: string; name: string; status: 'pending' | 'valid' | 'invalid'; challenge: Challenge; accountId: string; orderId: string };
type Order = { id: string; accountId: string; name: string; authzId: string; status: 'pending' | 'ready' | 'processing' | 'valid' | 'invalid'; certId?: string };

export interface FloorServerOptions {
  /** The DNS server the http-01 validation asks, "host:port". */
  dns: string;
  /** Where the validation fetches http-01 (RFC 8555 §8.3 says 80; test set-ups move it). */
  httpPort: number;
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  /**
   * Sign in this thread with the simulator's CA code, as Pebble's CA signs inside Pebble: no PCA
   * REST call, no simulator thread, the CSR parsed and verified once. Not what issue 11 measures (it
   * counts the simulator's signing path); what a target restated against an in-process CA would see.
   */
  inProcessCa?: boolean;
}

export interface FloorServer {
  directoryUrl: string;
  /** The self-signed certificate the server's HTTPS presents. */
  caPem: string;
  close(): Promise<void>;
}

const b64u = (b: Buffer): string => b.toString('base64url');
const newId = (): string => b64u(randomBytes(12));

export async function startFloorServer(opts: FloorServerOptions): Promise<FloorServer> {
  const { dns, httpPort } = opts;
  const logger = createLogger({ level: 'warn' });

  // The CA's keys and the simulator's journal: throwaway, removed by close().
  const dataDir = mkdtempSync(join(tmpdir(), 'floor-server-'));
  const accessKey = `floor-${newId()}`;
  const secretKey = newId();
  const localCa = opts.inProcessCa ? await loadOrCreateCa(dataDir, 2, systemClock, cryptoRandom) : null;
  const simulator = localCa
    ? null
    : await startSimulatorMaybeThreaded({ host: '127.0.0.1', port: 0, dataDir, accessKey, secretKey, behaviour: { keyRule: 'any' }, log: { level: 'warn', pretty: false } }, true, logger);
  const pca = simulator ? new NcpPcaClient({ endpoint: simulator.url, caTag: simulator.caTag, accessKey, secretKey, clock: systemClock }) : null;
  const resolver = createDnsResolver({ servers: [dns] });
  const http01 = createHttp01Validator({ resolver, addressPolicy: { check: () => ({ allowed: true }) }, port: httpPort });

  /** The chain for an order's CSR (null: the CSR does not name the order's one identifier). */
  async function issue(der: Buffer, order: Order): Promise<string | null> {
    const pem = toPem('CERTIFICATE REQUEST', der);
    if (localCa) {
      // Pebble's way: one CSR parse and check, one signature, no second party.
      const parsed = await parseCsr(pem);
      if (parsed.dnsNames.length !== 1 || parsed.dnsNames[0] !== order.name) return null;
      const now = Date.now();
      const leaf = await issueLeaf({ csr: parsed, issuer: localCa.issuing, serialHex: serialHex(cryptoRandom), notBefore: new Date(now - 60_000), notAfter: new Date(now + 30 * 86_400_000) });
      return [toPem('CERTIFICATE', leaf.der), ...localCa.chainPems].join('');
    }
    await checkCsr(der, [{ type: 'dns', value: order.name }]);
    order.status = 'processing';
    const signed = await pca!.sign(pem, { period: 30 });
    return [signed.leafPem, ...signed.chainPems].join('');
  }

  const cert = await makeSelfSigned('floor server');
  const accounts = new Map<string, Account>();
  const byThumbprint = new Map<string, Account>();
  const authzs = new Map<string, Authz>();
  const challenges = new Map<string, Challenge>();
  const orders = new Map<string, Order>();
  const certificates = new Map<string, string>();
  const nonces = new Set<string>();
  let base = '';

  const nonce = (): string => {
    const n = b64u(randomBytes(16));
    nonces.add(n);
    return n;
  };

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': typeof body === 'string' ? 'application/pem-certificate-chain' : 'application/json',
      'Content-Length': Buffer.byteLength(text),
      'Replay-Nonce': nonce(),
      'Cache-Control': 'no-store',
      Link: `<${base}/directory>;rel="index"`,
      ...headers,
    });
    res.end(text);
  }

  /** RFC 8555 §6.2: the JWS, its nonce and url; returns the account (or the jwk's, for newAccount) and the payload. */
  function verified(url: string, text: string): { account?: Account; jwk?: JsonWebKey; payload: Buffer } | null {
    const jws = JSON.parse(text) as { protected: string; payload: string; signature: string };
    const header = JSON.parse(Buffer.from(jws.protected, 'base64url').toString('utf8')) as { alg: string; nonce: string; url: string; kid?: string; jwk?: JsonWebKey };
    if (header.alg !== 'ES256' || header.url !== url || !nonces.delete(header.nonce)) return null;
    const account = header.kid ? accounts.get(header.kid.slice(header.kid.lastIndexOf('/') + 1)) : undefined;
    const key = account?.key ?? (header.jwk ? createPublicKey({ key: header.jwk, format: 'jwk' }) : undefined);
    if (!key) return null;
    const ok = verifySignature('sha256', Buffer.from(`${jws.protected}.${jws.payload}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(jws.signature, 'base64url'));
    if (!ok) return null;
    return { ...(account ? { account } : { jwk: header.jwk! }), payload: Buffer.from(jws.payload, 'base64url') };
  }

  const orderView = (o: Order) => ({
    status: o.status,
    identifiers: [{ type: 'dns', value: o.name }],
    authorizations: [`${base}/authz/${o.authzId}`],
    finalize: `${base}/finalize/${o.id}`,
    ...(o.certId ? { certificate: `${base}/cert/${o.certId}` } : {}),
  });
  const authzView = (a: Authz) => ({
    status: a.status,
    identifier: { type: 'dns', value: a.name },
    challenges: [{ type: 'http-01', url: `${base}/chall/${a.challenge.id}`, token: a.challenge.token, status: a.challenge.status }],
  });

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const path = req.url ?? '/';
    if (path === '/directory') return send(res, 200, { newNonce: `${base}/new-nonce`, newAccount: `${base}/new-account`, newOrder: `${base}/new-order` });
    if (path === '/new-nonce') return send(res, req.method === 'HEAD' ? 200 : 204, '');
    const v = verified(`${base}${path}`, body);
    if (!v) return send(res, 400, { type: 'urn:ietf:params:acme:error:malformed', status: 400 });
    const [, kind, id] = path.split('/') as [string, string, string | undefined];

    if (kind === 'new-account') {
      const jwk = v.jwk as { crv: string; kty: string; x: string; y: string };
      const thumbprint = b64u(createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest()); // RFC 7638
      let account = byThumbprint.get(thumbprint);
      const created = !account;
      if (!account) {
        account = { id: newId(), key: createPublicKey({ key: v.jwk!, format: 'jwk' }), thumbprint };
        accounts.set(account.id, account);
        byThumbprint.set(thumbprint, account);
      }
      return send(res, created ? 201 : 200, { status: 'valid' }, { Location: `${base}/acct/${account.id}` });
    }
    const account = v.account;
    if (!account) return send(res, 400, { type: 'urn:ietf:params:acme:error:accountDoesNotExist', status: 400 });
    /** The object the URL names, when it is this account's. */
    const mine = <T extends { accountId: string }>(of: Map<string, T>): T | undefined => {
      const found = of.get(id ?? '');
      return found?.accountId === account.id ? found : undefined;
    };
    const notFound = () => send(res, 404, { status: 404 });

    if (kind === 'new-order') {
      const { identifiers } = JSON.parse(v.payload.toString('utf8')) as { identifiers: Array<{ value: string }> };
      const challenge: Challenge = { id: newId(), token: b64u(randomBytes(32)), status: 'pending', authzId: '' };
      const authz: Authz = { id: newId(), name: identifiers[0]!.value, status: 'pending', challenge, accountId: account.id, orderId: newId() };
      challenge.authzId = authz.id;
      const order: Order = { id: authz.orderId, accountId: account.id, name: authz.name, authzId: authz.id, status: 'pending' };
      authzs.set(authz.id, authz);
      challenges.set(challenge.id, challenge);
      orders.set(order.id, order);
      return send(res, 201, orderView(order), { Location: `${base}/order/${order.id}` });
    }
    if (kind === 'authz') {
      const authz = mine(authzs);
      return authz ? send(res, 200, authzView(authz)) : notFound();
    }
    if (kind === 'chall') {
      const challenge = challenges.get(id ?? '');
      const authz = challenge && authzs.get(challenge.authzId);
      if (!challenge || !authz || authz.accountId !== account.id) return notFound();
      if (challenge.status === 'pending') {
        challenge.status = 'processing';
        // As the gateway does: the answer waits for the validation, so the next poll sees its result.
        const outcome = await http01.validate({ identifier: { type: 'dns', value: authz.name }, token: challenge.token, keyAuthorization: `${challenge.token}.${account.thumbprint}` });
        challenge.status = outcome.valid ? 'valid' : 'invalid';
        authz.status = challenge.status;
        const order = orders.get(authz.orderId);
        if (order?.status === 'pending') order.status = outcome.valid ? 'ready' : 'invalid';
      }
      return send(res, 200, { type: 'http-01', url: `${base}/chall/${challenge.id}`, token: challenge.token, status: challenge.status });
    }
    if (kind === 'finalize') {
      const order = mine(orders);
      if (!order) return notFound();
      if (order.status !== 'ready') return send(res, 403, { type: 'urn:ietf:params:acme:error:orderNotReady', status: 403 });
      const { csr } = JSON.parse(v.payload.toString('utf8')) as { csr: string };
      const chain = await issue(Buffer.from(csr, 'base64url'), order);
      if (!chain) return send(res, 400, { type: 'urn:ietf:params:acme:error:badCSR', status: 400 });
      order.certId = newId();
      certificates.set(order.certId, chain);
      order.status = 'valid';
      return send(res, 200, orderView(order), { Location: `${base}/order/${order.id}` });
    }
    if (kind === 'order') {
      const order = mine(orders);
      return order ? send(res, 200, orderView(order)) : notFound();
    }
    if (kind === 'cert') {
      const chain = certificates.get(id ?? '');
      return chain ? send(res, 200, chain) : notFound();
    }
    return notFound();
  }

  const server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, { detail: String(err) });
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  base = `https://localhost:${(server.address() as AddressInfo).port}`;
  return {
    directoryUrl: `${base}/directory`,
    caPem: cert.certPem,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      pca?.close();
      await simulator?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

async function cli(): Promise<void> {
  const [host, portText] = arg('listen', '127.0.0.1:0').split(':') as [string, string];
  const floor = await startFloorServer({ dns: arg('dns'), httpPort: Number(arg('http-port')), host, port: Number(portText), inProcessCa: process.argv.includes('--in-process-ca') });
  process.stdout.write(`floor server at ${floor.directoryUrl}\n`);
  const stop = () => void floor.close().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli().catch((err: unknown) => {
    process.stderr.write(`floor server: ${String(err)}\n`);
    process.exit(1);
  });
}
