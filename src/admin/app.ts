import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import type { Account, OrderStatus } from '../acme/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { Random } from '../platform/random.js';
import type { RequestScope } from '../platform/request-scope.js';
import { OperatorActionError, type OperatorActions } from '../services/operator-actions.js';
import type { Store } from '../store/types.js';
import { renderConsole, type ConsoleData } from './console.js';
import { parseDurationMs, parseSince } from './duration.js';
import { adminProblem } from './problem.js';
import type { AdminReadModel } from './read-model.js';

// The admin listener's app (admin.listen, loopback by default, apart from the ACME port):
//   GET /livez, /readyz                       probes, no token
//   GET /metrics                              Prometheus
//   GET /                                     the console (HTML)
//   GET /api/summary                          what the console shows, as JSON
//   GET /api/accounts[?status=&limit=]        GET /api/accounts/:id      POST /api/accounts/:id/deactivate
//   GET /api/orders[?status=&account=&name=&limit=]                     GET /api/orders/:id (timeline)
//   GET /api/certificates[?expiring-within=30d&name=&account=&limit=]   GET /api/certificates/:serial
//   POST /api/certificates/:serial/revoke  {"reason": 0-10}
//   GET /api/audit[?since=7d&action=&limit=]  GET /api/audit/export?since=… (JSON lines)
// Everything but the probes needs `Authorization: Bearer <token>`; a browser may give the token as
// the password of HTTP Basic instead (the console answers 401 with a Basic challenge, so it asks).

export interface AdminAppDeps {
  token: string;
  /** The audit trail names actions taken with the token by this name. */
  tokenName: string;
  metrics: Metrics;
  ready: () => Promise<void>;
  readModel: AdminReadModel;
  actions: OperatorActions;
  store: Store;
  consoleData: () => Promise<ConsoleData>;
  scope: RequestScope;
  random: Random;
  clock: Clock;
  logger: Logger;
}

type Env = { Bindings: { incoming?: IncomingMessage } };

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The token from a Bearer or Basic (password) Authorization header, or null. */
function presentedToken(header: string | undefined): string | null {
  if (!header) return null;
  const [scheme, value = ''] = header.split(/\s+/, 2) as [string, string?];
  if (/^bearer$/i.test(scheme)) return value;
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : null;
  }
  return null;
}

export function buildAdminApp(d: AdminAppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const expected = digest(d.token);
  const operator = { kind: 'admin' as const, name: d.tokenName };

  app.use('*', async (c, next) => {
    const requestId = d.random.bytes(8).toString('hex');
    const clientIp = c.env?.incoming?.socket?.remoteAddress ?? null;
    await d.scope.run({ requestId, clientIp }, next);
    c.header('Cache-Control', 'no-store');
    c.header('X-Request-Id', requestId);
  });
  app.onError((err, c) => {
    if (err instanceof OperatorActionError) return adminProblem(c, err.code === 'not-found' ? 'notFound' : err.code === 'conflict' ? 'conflict' : 'pcaFailure', err.message);
    d.logger.error({ err, path: c.req.path }, 'admin request failed');
    return adminProblem(c, 'internal', 'internal error; see the gateway log');
  });
  app.notFound((c) => adminProblem(c, 'notFound', `no such admin resource: ${c.req.method} ${c.req.path.slice(0, 200)}`));

  app.get('/livez', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    try {
      await d.ready();
      return c.json({ status: 'ready' });
    } catch (err) {
      return c.json({ status: 'not ready', reason: (err as Error).message }, 503);
    }
  });

  // ---- everything below needs the token ----
  app.use('*', async (c, next) => {
    const token = presentedToken(c.req.header('authorization'));
    // Compared as SHA-256 digests: same length whatever was sent, and in constant time.
    if (token !== null && timingSafeEqual(digest(token), expected)) return next();
    const browser = c.req.path === '/' || c.req.path === '/index.html';
    c.header('WWW-Authenticate', browser ? 'Basic realm="acme-pca-gateway admin", charset="UTF-8"' : 'Bearer realm="acme-pca-gateway admin"');
    return adminProblem(c, 'unauthorized', token === null ? 'the admin API needs Authorization: Bearer <admin token>' : 'wrong admin token');
  });

  app.get('/metrics', async (c) => c.body(await d.metrics.scrape(), 200, { 'Content-Type': d.metrics.registry.contentType }));
  app.get('/', async (c) => c.html(renderConsole(await d.consoleData())));
  app.get('/api/summary', async (c) => c.json(await d.consoleData()));

  app.get('/api/accounts', async (c) => {
    const status = c.req.query('status') as Account['status'] | undefined;
    return c.json(await d.readModel.accounts({ ...(status ? { status } : {}), limit: limitOf(c) }));
  });
  app.get('/api/accounts/:id', async (c) => found(c, await d.readModel.account(c.req.param('id'))));
  app.post('/api/accounts/:id/deactivate', async (c) => {
    await d.actions.deactivateAccount(c.req.param('id'), operator);
    return c.json(await d.readModel.account(c.req.param('id')));
  });

  app.get('/api/orders', async (c) => {
    const q = c.req.query();
    return c.json(
      await d.readModel.orders({ limit: limitOf(c), ...(q.status ? { status: q.status as OrderStatus } : {}), ...(q.account ? { accountId: q.account } : {}), ...(q.name ? { name: q.name } : {}) }),
    );
  });
  app.get('/api/orders/:id', async (c) => found(c, await d.readModel.order(c.req.param('id'))));

  app.get('/api/certificates', async (c) => {
    const q = c.req.query();
    const within = q['expiring-within'] ? parseDurationMs(q['expiring-within']) : undefined;
    if (within === null) return adminProblem(c, 'badRequest', 'expiring-within: expected a duration like 30d');
    return c.json(
      await d.readModel.certificates({ limit: limitOf(c), ...(within !== undefined ? { expiringWithinMs: within } : {}), ...(q.name ? { name: q.name } : {}), ...(q.account ? { accountId: q.account } : {}) }),
    );
  });
  app.get('/api/certificates/:serial', async (c) => found(c, await d.readModel.certificate(c.req.param('serial'))));
  app.post('/api/certificates/:serial/revoke', async (c) => {
    const view = await d.readModel.certificate(c.req.param('serial'));
    if (!view) return adminProblem(c, 'notFound', `no certificate ${c.req.param('serial').slice(0, 200)}`);
    const body = await jsonObjectBody(c);
    if (body === null) return adminProblem(c, 'badRequest', 'the body: expected a JSON object such as {"reason": 4}, or nothing');
    const reason = body.reason ?? 0;
    if (typeof reason !== 'number' || !Number.isInteger(reason) || reason < 0 || reason > 10 || reason === 7) {
      return adminProblem(c, 'badRequest', 'reason: an RFC 5280 reason code, 0-6 or 8-10');
    }
    await d.actions.revokeCertificate((await d.store.certificates.get(view.id))!, reason, operator);
    return c.json(await d.readModel.certificate(view.id));
  });

  app.get('/api/audit', async (c) => c.json(await d.readModel.audit(auditFilter(c, d.clock.nowMs()))));
  app.get('/api/audit/export', async (c) => {
    const events = await d.readModel.audit({ ...auditFilter(c, d.clock.nowMs()), limit: 100_000 });
    return c.body(events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : ''), 200, { 'Content-Type': 'application/x-ndjson' });
  });

  return app;
}

function limitOf(c: Context): number {
  const n = Number(c.req.query('limit') ?? 100);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 10_000) : 100;
}

function auditFilter(c: Context, nowMs: number) {
  const since = c.req.query('since');
  const sinceMs = since ? parseSince(since, nowMs) : null;
  const action = c.req.query('action');
  return { limit: limitOf(c), ...(sinceMs !== null ? { sinceMs } : {}), ...(action ? { action } : {}) };
}

function found(c: Context, value: unknown): Response {
  return value ? c.json(value) : adminProblem(c, 'notFound', `not found: ${c.req.path.split('/').pop()!.slice(0, 200)}`);
}

/** The body as a JSON object: {} when there is none, null when it is not a JSON object. */
async function jsonObjectBody(c: Context): Promise<Record<string, unknown> | null> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
