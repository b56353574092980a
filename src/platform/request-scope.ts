import { AsyncLocalStorage } from 'node:async_hooks';

// Per-request context that follows the request's async work wherever it goes: the logger's mixin
// puts its request id (and the order id once known) on every line written while the request runs,
// deep in a use case or a store call included, and the audit trail reads the client's address from
// it. One instance per gateway, built in deps.ts and passed in (no module-level state).

export interface RequestContext {
  requestId: string;
  clientIp: string | null;
  /** Set by a route once it knows the order the request is about. */
  orderId?: string;
}

export class RequestScope {
  private readonly storage = new AsyncLocalStorage<RequestContext>();

  run<T>(context: RequestContext, fn: () => T): T {
    return this.storage.run(context, fn);
  }

  current(): RequestContext | undefined {
    return this.storage.getStore();
  }

  /** The fields every log line of the current request carries. */
  logFields(): Record<string, string> {
    const c = this.storage.getStore();
    if (!c) return {};
    return c.orderId ? { requestId: c.requestId, orderId: c.orderId } : { requestId: c.requestId };
  }
}
