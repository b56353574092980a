import { Hono } from 'hono';
import { DEFAULT_DIRECTORY, type Linker } from '../acme/links.js';
import { AcmeProblem } from '../acme/problems.js';
import type { NonceService } from '../auth/nonces.js';
import type { RequestVerifier } from '../auth/verifier.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { Random } from '../platform/random.js';
import { registerDirectoryRoutes, type DirectoryRoutes } from './directory-routes.js';
import { PROBLEM_TYPE, type Ctx, type Env, type RetryAfterHint } from './respond.js';
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
  /** Every directory served (issue 9): the default one at <base>/directory, the others at <base>/<name>/directory. */
  directories: DirectoryRoutes[];
  logger: Logger;
  random: Random;
  metrics: Metrics;
  /** Retry-After for work still processing (http/respond.ts); 1 s when absent. */
  retryAfter?: RetryAfterHint;
  /** Each request runs inside its context: the request id on every log line, the client's address for the audit. */
  scope: RequestScope;
  /** Refused newOrder and finalize requests go on the audit trail. */
  events?: OpsEventSink;
}

export function buildApp(deps: AppDeps): Hono<Env> {
  const { linker, config, logger } = deps;
  const app = new Hono<Env>();
  const newNoncePaths = new Set(deps.directories.map((d) => linker.pattern('newNonce', d.name)));
  // The directory a path belongs to, for its Link rel="index" (RFC 8555 §7.1): a named directory's
  // prefix, else the default directory (operations paths and unknown paths included).
  const named = deps.directories.filter((d) => d.name !== DEFAULT_DIRECTORY).map((d) => ({ prefix: `${linker.basePath}${linker.prefix(d.name)}/`, index: indexLink(linker, d.name) }));
  const defaultIndex = indexLink(linker, DEFAULT_DIRECTORY);
  const indexOf = (path: string) => named.find((d) => path.startsWith(d.prefix))?.index ?? defaultIndex;

  // ---- headers every ACME response carries ----
  // Set before the handler runs, so that they go into the response it builds: a header set on a
  // response already built makes Hono copy it, which turns its body into a web stream that the Node
  // adapter then pumps chunk by chunk (issue 11: that was a third of a small request's cost).
  app.use('*', async (c, next) => {
    const requestId = deps.random.bytes(8).toString('hex');
    c.set('requestId', requestId);
    c.set('links', [indexOf(c.req.path)]);
    // RFC 8555 §6.5: a fresh nonce on every POST response, success or error, and on newNonce; none
    // on the directory or other GETs (Boulder and Pebble send none there, and Debian's ruby
    // acme-client 2.0.9 crashes on a directory response that carries one; interop item 4).
    if (c.req.method === 'POST' || newNoncePaths.has(c.req.path)) c.header('Replay-Nonce', deps.nonces.issue());
    c.header('Cache-Control', 'no-store');
    const stopTimer = deps.metrics.httpDuration.startTimer();
    await deps.scope.run({ requestId, clientIp: c.env?.incoming?.socket?.remoteAddress ?? null }, next);
    const route = c.req.routePath || 'unmatched';
    stopTimer({ route });
    deps.metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    writeLinks(c);
  });

  app.onError((err, c) => problemResponse(c, err, logger, deps.metrics));
  // The path is the client's (as long as the listener's header limit allows): cut short in the detail.
  app.notFound((c) => problemResponse(c, new AcmeProblem('malformed', `no such resource: ${c.req.method} ${clip(c.req.path)}`, { status: 404 }), logger, deps.metrics));

  // /metrics, /livez and /readyz are served by the admin listener (admin/app.ts), not here: the
  // ACME port serves ACME only.
  const events = deps.events ?? noOpsEvents;
  for (const { name } of deps.directories) {
    app.use(linker.pattern('newOrder', name), auditRefusals(events, 'order.refused'));
    app.use(linker.pattern('finalize', name), auditRefusals(events, 'finalize.refused'));
    app.use(linker.pattern('finalize', name), orderIdInScope(deps.scope));
    app.use(linker.pattern('order', name), orderIdInScope(deps.scope));
  }

  // ---- the ACME directories (RFC 8555 §7) ----
  for (const d of deps.directories) {
    registerDirectoryRoutes(app, { linker, verifier: deps.verifier, maxBodyBytes: config.server.maxBodyBytes, trustProxyHeaders: config.server.trustProxyHeaders, ...(deps.retryAfter ? { retryAfter: deps.retryAfter } : {}) }, d);
  }

  return app;
}

const clip = (s: string, n = 200): string => (s.length > n ? `${s.slice(0, n)}…` : s);

const indexLink = (linker: Linker, directory: string): string => `<${linker.url('directory', directory)}>;rel="index"`;

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
