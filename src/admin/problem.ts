import type { Context } from 'hono';

// The admin API's errors are RFC 7807 problem documents, like the ACME port's (RFC 8555 §6.7), with
// types of their own: the ACME error namespace (urn:ietf:params:acme:error:) names what an ACME
// client did wrong, and an operator's request to the admin listener is not an ACME request.

export type AdminProblemType = 'unauthorized' | 'notFound' | 'badRequest' | 'conflict' | 'pcaFailure' | 'internal';

const KINDS: Record<AdminProblemType, { status: 400 | 401 | 404 | 409 | 500 | 502; title: string }> = {
  badRequest: { status: 400, title: 'the request is not one the admin API takes' },
  unauthorized: { status: 401, title: 'the admin token is missing or wrong' },
  notFound: { status: 404, title: 'no such admin resource' },
  conflict: { status: 409, title: 'the resource is not in a state that allows this' },
  internal: { status: 500, title: 'internal error; see the gateway log' },
  pcaFailure: { status: 502, title: 'the PCA did not carry the action out' },
};

/** Answers with an `application/problem+json` document (RFC 7807 §3). */
export function adminProblem(c: Context, type: AdminProblemType, detail: string): Response {
  const { status, title } = KINDS[type];
  c.header('Content-Type', 'application/problem+json');
  return c.body(JSON.stringify({ type: `urn:acme-pca-gateway:admin:${type}`, title, status, detail }), status);
}
