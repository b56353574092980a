import type { MiddlewareHandler } from 'hono';
import type { OpsEventSink } from '../acme/ops-events.js';
import { AcmeProblem } from '../acme/problems.js';
import type { Account } from '../acme/types.js';

// Policy refusals on the audit trail (issue 13): a newOrder or finalize that a verified account sent
// and the gateway refused with a problem (a name the policy forbids, a bad CSR, an unknown profile,
// ...). Requests whose JWS did not verify are not policy decisions and are left to the logs.

export function auditRefusals(events: OpsEventSink, action: 'order.refused' | 'finalize.refused'): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const err = c.error;
    const account = (c.get('verified') as { account?: Account } | undefined)?.account;
    if (!(err instanceof AcmeProblem) || !account) return;
    const orderId = action === 'finalize.refused' ? (c.req.param('id') ?? null) : null;
    await events.record({ action, accountId: account.id, directory: account.directory, orderId, detail: { problem: err.toDocument() } });
  };
}

/** On an order's routes, every log line of the request carries the order id too (platform/request-scope.ts). */
export function orderIdInScope(scope: { current(): { orderId?: string } | undefined }): MiddlewareHandler {
  return async (c, next) => {
    const context = scope.current();
    const id = c.req.param('id');
    if (context && id) context.orderId = id;
    await next();
  };
}
