import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';

// What every route shares: the app's Env, and the small response helpers (http/app.ts builds the
// shell, http/directory-routes.ts the ACME routes of each directory).

export type Env = {
  Bindings: { incoming?: IncomingMessage; outgoing?: ServerResponse };
  Variables: { links: string[]; requestId: string };
};

/** Any route's context: the app's Env, plus the verified request once a signing middleware ran. */
export type Ctx<E extends Env = Env> = Context<E>;

export const JSON_TYPE = 'application/json';
export const PROBLEM_TYPE = 'application/problem+json';
export const PEM_CHAIN_TYPE = 'application/pem-certificate-chain';

export function json<E extends Env>(c: Ctx<E>, status: number, body: unknown): Response {
  return c.body(JSON.stringify(body), status as 200, { 'Content-Type': JSON_TYPE });
}

/** The :id of a resource route; every resource pattern has one (acme/links.ts ROUTES). */
export function resourceId<E extends Env>(c: Ctx<E>): string {
  const id = c.req.param('id');
  if (id === undefined) throw new Error(`route ${c.req.routePath} has no :id`);
  return id;
}

export function addLink<E extends Env>(c: Ctx<E>, link: string): void {
  c.get('links').push(link);
}

/** Work the gateway does in the background, for which a client may be told to come back later. */
export type BackgroundWork = 'validation' | 'issuance';

/** Whole seconds, at least 1, until work of that kind is worth another look (jobs/retry-after.ts says why never 0). */
export type RetryAfterHint = (work: BackgroundWork) => number;

/**
 * interop item 30: whole seconds on everything still pending or processing. Pending waits on the
 * client (it must answer a challenge, or finalize): 1 s. Processing waits on the gateway: the hint
 * for that work, which grows with the queue when the gateway is loaded.
 */
export function retryAfterWhileBusy<E extends Env>(c: Ctx<E>, status: string, processing?: { work: BackgroundWork; hint: RetryAfterHint }): void {
  if (status === 'pending') c.header('Retry-After', '1');
  else if (status === 'processing') c.header('Retry-After', String(Math.max(1, Math.ceil(processing ? processing.hint(processing.work) : 1))));
}
