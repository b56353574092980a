import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { ZodError } from 'zod';
import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import type { Random } from '../../platform/random.js';
import type { SimulatorApi } from './api.js';
import { GatewayError, PcaApiError, notFound } from './api-error.js';
import { checkNcpAuth } from './auth.js';
import { DEFAULT_BEHAVIOUR, RateLimiter, type SimulatorBehaviour } from './behaviour.js';
import { FaultCounter, planFaults, type FaultController, type FaultEndpoint, type FaultKind, type FaultPlan } from './faults.js';

/** API Gateway body cap (ncp-pca-api §1.3 table: 413 / errorCode 430). The real limit is undocumented. */
export const MAX_BODY_BYTES = 64 * 1024;

interface Ctx {
  /** Every CA served, by tag (GET /ca lists them all). */
  apis: ReadonlyMap<string, SimulatorApi>;
  params: string[];
  query: URLSearchParams;
  body: Record<string, unknown>;
  plan: FaultPlan;
}

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  endpoint: FaultEndpoint;
  handle: (api: SimulatorApi, ctx: Ctx) => unknown;
}

const TAG = '([^/]+)';
// ncp-pca-api §3; the sign route comes before the {serialNo} one so "sign" is never read as a serial.
const ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/api\/v1\/ca$/, endpoint: 'ca', handle: (_api, c) => listCas(c.apis) },
  { method: 'GET', pattern: new RegExp(`^/api/v1/ca/${TAG}$`), endpoint: 'ca', handle: (api) => api.getCa() },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/v1/ca/${TAG}/cert/sign$`),
    endpoint: 'sign',
    handle: (api, c) => api.sign(c.body, c.query, { wrongKey: c.plan.wrongKey }),
  },
  { method: 'GET', pattern: new RegExp(`^/api/v1/ca/${TAG}/cert$`), endpoint: 'list', handle: (api, c) => api.listCerts(c.query) },
  { method: 'GET', pattern: new RegExp(`^/api/v1/ca/${TAG}/cert/${TAG}$`), endpoint: 'get', handle: (api, c) => api.getCert(c.params[1]!) },
  { method: 'POST', pattern: new RegExp(`^/api/v1/ca/${TAG}/cert/${TAG}/revoke$`), endpoint: 'revoke', handle: (api, c) => api.revoke(c.params[1]!) },
  { method: 'GET', pattern: new RegExp(`^/api/v1/ca/${TAG}/chain$`), endpoint: 'chain', handle: (api) => api.chain() },
  { method: 'GET', pattern: new RegExp(`^/api/v1/ca/${TAG}/crl$`), endpoint: 'crl', handle: (api) => api.crlPem() },
  { method: 'POST', pattern: new RegExp(`^/api/v1/ca/${TAG}/crl/rotate$`), endpoint: 'rotate', handle: (api) => api.rotateCrl() },
];

export interface SimulatorServerDeps {
  /** The CAs served on this port, by caTag; the first is the default (GET /_simulator/issued). */
  apis: ReadonlyMap<string, SimulatorApi>;
  faults: FaultController;
  accessKey: string;
  secretKey: string;
  /** Real time: the rate limit's window. */
  clock: Clock;
  /** The PCA gateway's own clock (behaviour clockOffsetMs applied): its Date header and timestamp check. */
  pcaClock?: Clock;
  random: Random;
  logger?: Logger;
  /** The behaviours in force (behaviour.ts). */
  behaviour?: () => SimulatorBehaviour;
}

/**
 * The simulator's HTTP front: API Gateway behaviour (auth, body cap, gateway error shape), the PCA
 * routes with the {code,msg,data} envelope, fault injection, the unauthenticated /ext/ distribution
 * URLs and the loopback-only /_simulator/ admin endpoints.
 */
export class SimulatorServer {
  readonly server: http.Server;
  /** Aborts pending latency waits on close so nothing outlives the server. */
  private readonly closing = new AbortController();
  private readonly fired = new FaultCounter();
  /** API requests routed since start, per endpoint (GET /_simulator/calls): what a gateway costs the PCA. */
  private readonly calls: Partial<Record<FaultEndpoint, number>> = {};

  private readonly defaultApi: SimulatorApi;
  private readonly limiter = new RateLimiter();

  constructor(private readonly d: SimulatorServerDeps) {
    const first = d.apis.values().next();
    if (first.done) throw new Error('the simulator needs at least one CA');
    this.defaultApi = first.value;
    this.server = http.createServer((req, res) => {
      this.dispatch(req, res).catch((e: unknown) => {
        d.logger?.error({ err: e }, 'simulator request failed');
        if (!res.headersSent && !res.destroyed) sendEnvelopeError(res, new PcaApiError(500, 'INTERNAL_SERVER_ERROR', 'internal server error.'));
      });
    });
  }

  async close(): Promise<void> {
    this.closing.abort();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Requests held open by the timeout fault would otherwise keep close() waiting forever.
    this.server.closeAllConnections();
    await closed;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    const method = req.method ?? 'GET';
    const qIndex = target.indexOf('?');
    const path = qIndex === -1 ? target : target.slice(0, qIndex);
    const query = new URLSearchParams(qIndex === -1 ? '' : target.slice(qIndex + 1));

    if (path.startsWith('/_simulator/')) return this.admin(req, res, path, method, query);
    if (path.startsWith('/ext/')) return this.ext(res, path, method);

    let route: Route | undefined;
    let params: string[] = [];
    for (const r of ROUTES) {
      const m = r.method === method ? r.pattern.exec(path) : null;
      if (m) {
        route = r;
        params = m.slice(1);
        break;
      }
    }
    if (!route) return sendGatewayError(res, new GatewayError(404, '300', 'Not Found Exception', 'unknown resource'));
    this.calls[route.endpoint] = (this.calls[route.endpoint] ?? 0) + 1;

    const behaviour = this.d.behaviour?.() ?? DEFAULT_BEHAVIOUR;
    const pcaClock = this.d.pcaClock ?? this.d.clock;
    // The API gateway dates every answer with its own clock (what `pca check` measures skew against).
    res.setHeader('date', new Date(pcaClock.nowMs()).toUTCString());
    const raw = await readBody(req);
    if (raw === 'too-large') {
      res.setHeader('connection', 'close');
      return sendGatewayError(res, new GatewayError(413, '430', 'Request Entity Too Large', `body exceeds ${MAX_BODY_BYTES} bytes`));
    }
    // §1.3: the gateway's throttle answers before anything else looks at the request.
    if (!this.limiter.admit(this.d.clock.nowMs(), behaviour.rateLimitPerSecond)) {
      return sendGatewayError(res, new GatewayError(429, '420', 'Rate Limited', `more than ${behaviour.rateLimitPerSecond} calls per second`));
    }
    const authFailure = checkNcpAuth(method, target, req.headers, { accessKey: this.d.accessKey, secretKey: this.d.secretKey, clock: pcaClock });
    if (authFailure) return sendGatewayError(res, new GatewayError(401, '200', 'Authentication Failed', authFailure));
    // §1.2: Content-Type application/json is marked Required on every call, GET included (§4.10).
    if (!isJsonContentType(req.headers['content-type'])) {
      return sendEnvelopeError(res, new PcaApiError(400, 'INVALID_REQUEST', 'Invalid request: Content-Type must be application/json.'));
    }

    const plan = planFaults(this.d.faults.get(), route.endpoint, this.d.random);
    const fired = (kind: FaultKind): void => this.fired.fired(kind, route.endpoint);
    if (plan.latencyMs > 0) {
      fired('latency');
      try {
        await delay(plan.latencyMs, undefined, { signal: this.closing.signal });
      } catch {
        return; // shutting down
      }
    }
    if (plan.timeout) return fired('timeout'); // accepted, never answered; close() tears the socket down
    if (plan.error) {
      fired('error');
      return sendInjectedError(res, plan.error);
    }

    let data: unknown;
    try {
      let body: Record<string, unknown> = {};
      if (raw.length > 0) {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new PcaApiError(400, 'INVALID_REQUEST', 'Invalid request.');
        body = parsed as Record<string, unknown>;
      }
      // Every route but GET /ca captures the caTag first; an unknown one is a PCA 404 (after auth).
      const api = params[0] === undefined ? this.defaultApi : this.d.apis.get(decodeSegment(params[0]));
      if (!api) throw notFound('ca');
      data = await route.handle(api, { apis: this.d.apis, params, query, body, plan });
    } catch (e) {
      if (e instanceof SyntaxError) return sendEnvelopeError(res, new PcaApiError(400, 'INVALID_REQUEST', 'Invalid request.'));
      if (e instanceof PcaApiError) return sendEnvelopeError(res, e);
      throw e;
    }
    if (plan.wrongKey) fired('wrongKey'); // the sign call above succeeded with a stranger's key
    // Faults that strike after the work is done: the PCA acted but the caller cannot tell.
    if (plan.dropAfterSign) {
      fired('dropAfterSign');
      req.socket.destroy();
      return;
    }
    if (plan.malformed) {
      fired('malformed');
      return send(res, 200, 'application/json;charset=UTF-8', '{"code":"SUCCESS","msg":"Success","data":{"certif');
    }
    sendJson(res, 200, { code: 'SUCCESS', msg: 'Success', data });
  }

  /** Unauthenticated CA distribution points (ncp-pca-api §1.1): DER, as browsers and OpenSSL expect. */
  private async ext(res: ServerResponse, path: string, method: string): Promise<void> {
    const m = /^\/ext\/([^/]+)\/(crl|ca)$/.exec(path);
    const api = m ? this.d.apis.get(decodeSegment(m[1]!)) : undefined;
    if (method !== 'GET' || !m || !api) {
      return sendGatewayError(res, new GatewayError(404, '300', 'Not Found Exception', 'unknown resource'));
    }
    if (m[2] === 'crl') return send(res, 200, 'application/pkix-crl', await api.crl());
    return send(res, 200, 'application/pkix-cert', api.rootDer());
  }

  /** Test and operator hooks; loopback peers only, no NCP auth. */
  private async admin(req: IncomingMessage, res: ServerResponse, path: string, method: string, query: URLSearchParams): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) return sendJson(res, 403, { error: 'loopback only' });
    if (path === '/_simulator/faults' && method === 'GET') return sendJson(res, 200, this.d.faults.get());
    if (path === '/_simulator/faults/fired' && method === 'GET') return sendJson(res, 200, this.fired.snapshot());
    if (path === '/_simulator/calls' && method === 'GET') return sendJson(res, 200, this.calls);
    if (path === '/_simulator/faults' && method === 'PUT') {
      const raw = await readBody(req);
      if (raw === 'too-large') return sendJson(res, 413, { error: 'too large' });
      try {
        this.d.faults.set(JSON.parse(raw.toString('utf8') || '{}'));
      } catch (e) {
        const detail = e instanceof ZodError ? e.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : 'invalid JSON';
        return sendJson(res, 400, { error: detail });
      }
      this.d.logger?.info({ faults: this.d.faults.get() }, 'simulator faults changed');
      return sendJson(res, 200, this.d.faults.get());
    }
    if (path === '/_simulator/issued' && method === 'GET') {
      // ?caTag= picks a CA; without it, the default one (what callers with a single CA always got).
      const tag = query.get('caTag');
      const api = tag === null ? this.defaultApi : this.d.apis.get(tag);
      return api ? sendJson(res, 200, api.issued()) : sendJson(res, 404, { error: `no CA with caTag ${tag}` });
    }
    return sendJson(res, 404, { error: 'not found' });
  }
}

/** ncp-pca-api §3.10: every CA on this endpoint. */
function listCas(apis: ReadonlyMap<string, SimulatorApi>): unknown {
  const caInfoList = [...apis.values()].map((api) => api.caDetail());
  return { totalCnt: caInfoList.length, totalPageNo: 1, currentPageNo: 1, caInfoList };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** application/json, parameters (charset) allowed. */
function isJsonContentType(value: string | undefined): boolean {
  return value !== undefined && value.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return Promise.resolve('too-large');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown): void =>
  send(res, status, 'application/json;charset=UTF-8', JSON.stringify(value));

const sendEnvelopeError = (res: ServerResponse, e: PcaApiError): void => sendJson(res, e.status, { code: e.code, msg: e.message, data: null });

const sendGatewayError = (res: ServerResponse, e: GatewayError): void =>
  sendJson(res, e.status, { error: { errorCode: e.errorCode, message: e.message, details: e.details } });

/** An all-digit code mimics the API Gateway (e.g. 429 / "410"); anything else is a PCA envelope error. */
function sendInjectedError(res: ServerResponse, err: { status: number; code: string }): void {
  if (/^\d+$/.test(err.code)) return sendGatewayError(res, new GatewayError(err.status, err.code, 'Injected Error', 'simulator fault injection'));
  sendEnvelopeError(res, new PcaApiError(err.status, err.code, 'injected error.'));
}
