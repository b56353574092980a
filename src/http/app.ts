import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono, type Context } from 'hono';
import { DEFAULT_DIRECTORY, type Linker } from '../acme/links.js';
import { AcmeProblem } from '../acme/problems.js';
import type { NonceService } from '../auth/nonces.js';
import type { RequestVerifier } from '../auth/verifier.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { Random } from '../platform/random.js';
import type { AccountService } from '../services/accounts.js';
import type { KeyChangeService } from '../services/key-change.js';
import type { AuthorizationService } from '../services/authorizations.js';
import type { CertificateService } from '../services/certificates.js';
import type { ChallengeService } from '../services/challenges.js';
import type { OrderService } from '../services/orders.js';
import type { RenewalInfoService } from '../services/renewal-info.js';
import type { RevocationService } from '../services/revocation.js';
import { renderAccount, renderAuthorization, renderChallenge, renderDirectory, renderOrder, renderOrdersList, renderRenewalInfo, type DirectoryMeta } from './render.js';
import { verifiedRequests } from './verified.js';
import { auditRefusals, orderIdInScope } from './refusals.js';
import { noOpsEvents, type OpsEventSink } from '../acme/ops-events.js';
import type { RequestScope } from '../platform/request-scope.js';

// Builds the Hono app from its dependencies; no I/O happens here. Every response gets a fresh
// Replay-Nonce, Cache-Control: no-store and Link rel="index" (interop items 4, 40); every error is a
// problem document (RFC 7807) with the ACME type and status (interop item 7), never a stack trace.

export interface AppDeps {
  config: GatewayConfig;
  linker: Linker;
  nonces: NonceService;
  verifier: RequestVerifier;
  accounts: AccountService;
  orders: OrderService;
  authorizations: AuthorizationService;
  challenges: ChallengeService;
  certificates: CertificateService;
  revocation: RevocationService;
  keyChange: KeyChangeService;
  renewalInfo: RenewalInfoService;
  logger: Logger;
  random: Random;
  metrics: Metrics;
  /** Each request runs inside its context: the request id on every log line, the client's address for the audit. */
  scope: RequestScope;
  /** Refused newOrder and finalize requests go on the audit trail. */
  events?: OpsEventSink;
}

type Env = {
  Bindings: { incoming?: IncomingMessage; outgoing?: ServerResponse };
  Variables: { links: string[]; requestId: string };
};

/** Any route's context: the app's Env, plus the verified request once a signing middleware ran. */
type Ctx<E extends Env = Env> = Context<E>;

const JSON_TYPE = 'application/json';
const PROBLEM_TYPE = 'application/problem+json';
const PEM_CHAIN_TYPE = 'application/pem-certificate-chain';

export function buildApp(deps: AppDeps): Hono<Env> {
  const { linker, config, logger } = deps;
  const dir = DEFAULT_DIRECTORY;
  const app = new Hono<Env>();
  const newNoncePattern = linker.pattern('newNonce', dir);
  // Each route names the signing mode it takes (auth/requests.ts); its handler reads c.var.verified.
  const signed = verifiedRequests({ verifier: deps.verifier, linker, directory: dir, maxBodyBytes: config.server.maxBodyBytes });

  // ---- headers every ACME response carries ----
  app.use('*', async (c, next) => {
    const requestId = deps.random.bytes(8).toString('hex');
    c.set('requestId', requestId);
    c.set('links', [`<${linker.url('directory', dir)}>;rel="index"`]);
    const stopTimer = deps.metrics.httpDuration.startTimer();
    await deps.scope.run({ requestId, clientIp: c.env?.incoming?.socket?.remoteAddress ?? null }, next);
    const route = c.req.routePath || 'unmatched';
    stopTimer({ route });
    deps.metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    // RFC 8555 §6.5: a fresh nonce on every POST response, success or error, and on newNonce; none
    // on the directory or other GETs (Boulder and Pebble send none there, and Debian's ruby
    // acme-client 2.0.9 crashes on a directory response that carries one; interop item 4).
    if (c.req.method === 'POST' || route === newNoncePattern) c.header('Replay-Nonce', deps.nonces.issue());
    c.header('Cache-Control', 'no-store');
    writeLinks(c);
  });

  app.onError((err, c) => problemResponse(c, err, logger, deps.metrics));
  // The path is the client's (as long as the listener's header limit allows): cut short in the detail.
  app.notFound((c) => problemResponse(c, new AcmeProblem('malformed', `no such resource: ${c.req.method} ${clip(c.req.path)}`, { status: 404 }), logger, deps.metrics));

  // /metrics, /livez and /readyz are served by the admin listener (admin/app.ts), not here: the
  // ACME port serves ACME only.
  const events = deps.events ?? noOpsEvents;
  app.use(linker.pattern('newOrder', dir), auditRefusals(events, 'order.refused'));
  app.use(linker.pattern('finalize', dir), auditRefusals(events, 'finalize.refused'));
  app.use(linker.pattern('finalize', dir), orderIdInScope(deps.scope));
  app.use(linker.pattern('order', dir), orderIdInScope(deps.scope));

  // ---- directory and nonces (RFC 8555 §7.1.1, §7.2) ----
  const directoryMeta: DirectoryMeta = {
    externalAccountRequired: config.acme.externalAccountRequired,
    termsOfService: config.acme.termsOfService ?? null,
    website: config.acme.website ?? null,
    profiles: Object.fromEntries(Object.entries(config.acme.profiles).map(([name, p]) => [name, p.description])),
  };
  app.get(linker.pattern('directory', dir), (c) => json(c, 200, renderDirectory(linker, dir, directoryMeta)));
  // HEAD → 200, GET → 204 (interop item 3: uacme wants exactly 204 on GET).
  app.on(['GET', 'HEAD'], linker.pattern('newNonce', dir), (c) => c.body(null, c.req.method === 'HEAD' ? 200 : 204));

  // ---- accounts (RFC 8555 §7.3) ----
  app.post(linker.pattern('newAccount', dir), signed.newAccount, async (c) => {
    const { account, created } = await deps.accounts.newAccount(c.var.verified, dir);
    c.header('Location', linker.url('account', dir, account.id));
    return json(c, created ? 201 : 200, renderAccount(linker, account));
  });
  app.post(linker.pattern('account', dir), signed.account, async (c) => {
    const req = c.var.verified;
    if (req.account.id !== c.req.param('id')) throw new AcmeProblem('unauthorized', 'the account URL does not match the signing account');
    const account = await deps.accounts.update(req.account, req.payload);
    c.header('Location', linker.url('account', dir, account.id));
    return json(c, 200, renderAccount(linker, account));
  });
  // RFC 8555 §7.1.2.1: the orders list is read with POST-as-GET.
  app.post(linker.pattern('orders', dir), signed.postAsGet, async (c) => {
    const { account } = c.var.verified;
    if (account.id !== c.req.param('id')) throw new AcmeProblem('unauthorized', 'an account can list only its own orders');
    const page = await deps.orders.list(account, c.req.query('cursor') ?? null);
    if (page.next) addLink(c, `<${linker.url('orders', dir, account.id)}?cursor=${page.next}>;rel="next"`);
    return json(c, 200, renderOrdersList(linker, dir, page.orderIds));
  });
  app.post(linker.pattern('keyChange', dir), signed.keyChange, async (c) => {
    const req = c.var.verified;
    const account = await deps.keyChange.change(req.account, req.newKey);
    c.header('Location', linker.url('account', dir, account.id));
    return json(c, 200, renderAccount(linker, account));
  });

  // ---- orders (RFC 8555 §7.4) ----
  app.post(linker.pattern('newOrder', dir), signed.account, async (c) => {
    const req = c.var.verified;
    const view = await deps.orders.newOrder(req.account, req.payload);
    c.header('Location', linker.url('order', dir, view.order.id));
    retryAfterWhileBusy(c, view.status);
    return json(c, 201, renderOrder(linker, view.order, view.status));
  });
  app.post(linker.pattern('order', dir), signed.postAsGet, async (c) => {
    const view = await deps.orders.view(c.var.verified.account, resourceId(c));
    retryAfterWhileBusy(c, view.status);
    return json(c, 200, renderOrder(linker, view.order, view.status));
  });
  app.post(linker.pattern('finalize', dir), signed.account, async (c) => {
    const req = c.var.verified;
    const view = await deps.orders.finalize(req.account, resourceId(c), req.payload);
    // interop item 22: 200 + Location of the order, status processing or valid, never ready.
    c.header('Location', linker.url('order', dir, view.order.id));
    retryAfterWhileBusy(c, view.status);
    return json(c, 200, renderOrder(linker, view.order, view.status));
  });

  // ---- authorizations and challenges (RFC 8555 §7.5) ----
  app.post(linker.pattern('authz', dir), signed.account, async (c) => {
    const req = c.var.verified;
    const id = resourceId(c);
    const view =
      req.payload === null
        ? await deps.authorizations.view(req.account, id)
        : await deps.authorizations.deactivate(req.account, id, req.payload);
    retryAfterWhileBusy(c, view.status);
    return json(c, 200, renderAuthorization(linker, view.authz, view.status));
  });
  app.post(linker.pattern('challenge', dir), signed.account, async (c) => {
    const req = c.var.verified;
    const { challenge, authz } = await deps.challenges.respond(req.account, resourceId(c), req.payload);
    // interop item 27: the authorization as Link rel="up".
    addLink(c, `<${linker.url('authz', dir, authz.id)}>;rel="up"`);
    retryAfterWhileBusy(c, challenge.status);
    return json(c, 200, renderChallenge(linker, dir, challenge));
  });

  // ---- certificates (RFC 8555 §7.4.2, §7.6) ----
  app.post(linker.pattern('certificate', dir), signed.postAsGet, async (c) => {
    const pem = await deps.certificates.fullchain(c.var.verified.account, resourceId(c));
    // interop item 33: no Link rel="up" when the chain is in the body.
    return c.body(pem, 200, { 'Content-Type': PEM_CHAIN_TYPE });
  });
  app.post(linker.pattern('revokeCert', dir), signed.revoke, async (c) => {
    await deps.revocation.revoke(c.var.verified, dir);
    return c.body(null, 200);
  });

  // ---- ACME Renewal Information (RFC 9773 §4.1): unauthenticated GET ----
  app.get(`${linker.pattern('renewalInfo', dir)}/:certId`, async (c) => {
    const info = await deps.renewalInfo.lookup(c.req.param('certId'));
    c.header('Retry-After', String(info.retryAfterSeconds));
    return json(c, 200, renderRenewalInfo(info.window));
  });

  // Resources are read with POST-as-GET (RFC 8555 §6.3); a plain GET gets a clear 405.
  for (const kind of ['account', 'order', 'authz', 'challenge', 'certificate', 'finalize', 'newAccount', 'newOrder', 'revokeCert', 'keyChange', 'orders'] as const) {
    app.get(linker.pattern(kind, dir), (c) => {
      c.header('Allow', 'POST');
      throw new AcmeProblem('malformed', 'this resource is read with POST-as-GET (RFC 8555 §6.3), not GET', { status: 405 });
    });
  }

  return app;
}

const clip = (s: string, n = 200): string => (s.length > n ? `${s.slice(0, n)}…` : s);

function json<E extends Env>(c: Ctx<E>, status: number, body: unknown): Response {
  return c.body(JSON.stringify(body), status as 200, { 'Content-Type': JSON_TYPE });
}

/** The :id of a resource route; every resource pattern has one (acme/links.ts ROUTES). */
function resourceId<E extends Env>(c: Ctx<E>): string {
  const id = c.req.param('id');
  if (id === undefined) throw new Error(`route ${c.req.routePath} has no :id`);
  return id;
}

function addLink<E extends Env>(c: Ctx<E>, link: string): void {
  c.get('links').push(link);
}

/** interop item 30: whole seconds on everything still pending or processing. */
function retryAfterWhileBusy<E extends Env>(c: Ctx<E>, status: string): void {
  if (status === 'pending' || status === 'processing') c.header('Retry-After', '1');
}

/**
 * One Link per header line (interop item 40). The Fetch Headers of the Node adapter join repeated
 * values with ", ", which x/crypto, acme.sh, dehydrated and uacme misread; so on a real socket the
 * links go straight onto the Node response, which writes each value as its own header line.
 */
function writeLinks(c: Ctx): void {
  const links = c.get('links');
  const outgoing = c.env?.outgoing;
  if (outgoing && typeof outgoing.setHeader === 'function' && !outgoing.headersSent) {
    outgoing.setHeader('Link', links);
  } else {
    for (const link of links) c.header('Link', link, { append: true });
  }
}

function problemResponse(c: Ctx, err: unknown, logger: Logger, metrics: Metrics): Response {
  let problem: AcmeProblem;
  if (err instanceof AcmeProblem) {
    problem = err;
  } else {
    logger.error({ err, requestId: c.get('requestId'), method: c.req.method, path: c.req.path }, 'unhandled error');
    problem = new AcmeProblem('serverInternal', `the server experienced an internal error (request ${c.get('requestId') ?? '?'})`);
  }
  metrics.problems.inc({ type: problem.type });
  for (const [k, v] of Object.entries(problem.headers ?? {})) c.header(k, v);
  return c.body(JSON.stringify(problem.toDocument()), problem.status as 400, { 'Content-Type': PROBLEM_TYPE });
}
