import type { Hono } from 'hono';
import type { Linker } from '../acme/links.js';
import { AcmeProblem } from '../acme/problems.js';
import type { RequestVerifier } from '../auth/verifier.js';
import type { AccountService } from '../services/accounts.js';
import type { AuthorizationService } from '../services/authorizations.js';
import type { CertificateService } from '../services/certificates.js';
import type { ChallengeService } from '../services/challenges.js';
import type { KeyChangeService } from '../services/key-change.js';
import type { OrderService } from '../services/orders.js';
import type { RenewalInfoService } from '../services/renewal-info.js';
import type { RevocationService } from '../services/revocation.js';
import { renderAccount, renderAuthorization, renderChallenge, renderDirectory, renderOrder, renderOrdersList, renderRenewalInfo, type DirectoryMeta } from './render.js';
import { addLink, json, PEM_CHAIN_TYPE, resourceId, retryAfterWhileBusy, type Env, type RetryAfterHint } from './respond.js';
import { verifiedRequests } from './verified.js';
import { clientAddress } from './client-address.js';

// The ACME routes of one directory (RFC 8555 §7), registered from the URL builder under the
// directory's prefix. Each directory brings its own use cases (built with its PCA, validity and
// issuance policy in deps.ts); the request verifier scopes every kid and EAB key to the directory.

/** One directory as the HTTP layer serves it. */
export interface DirectoryRoutes {
  name: string;
  meta: DirectoryMeta;
  accounts: AccountService;
  orders: OrderService;
  authorizations: AuthorizationService;
  challenges: ChallengeService;
  certificates: CertificateService;
  revocation: RevocationService;
  keyChange: KeyChangeService;
  renewalInfo: RenewalInfoService;
}

export interface SharedRouteDeps {
  linker: Linker;
  verifier: RequestVerifier;
  maxBodyBytes: number;
  /** Retry-After for work still processing (the job runner's estimate; 1 s when absent). */
  retryAfter?: RetryAfterHint;
  /** server.trustProxyHeaders: the client address from X-Forwarded-For (http/client-address.ts). */
  trustProxyHeaders: boolean;
}

export function registerDirectoryRoutes(app: Hono<Env>, shared: SharedRouteDeps, d: DirectoryRoutes): void {
  const { linker } = shared;
  const dir = d.name;
  // Each route names the signing mode it takes (auth/requests.ts); its handler reads c.var.verified.
  const signed = verifiedRequests({ verifier: shared.verifier, linker, directory: dir, maxBodyBytes: shared.maxBodyBytes });
  const hint: RetryAfterHint = shared.retryAfter ?? (() => 1);
  const issuance = { work: 'issuance', hint } as const;
  const validation = { work: 'validation', hint } as const;

  // ---- directory and nonces (RFC 8555 §7.1.1, §7.2) ----
  app.get(linker.pattern('directory', dir), (c) => json(c, 200, renderDirectory(linker, dir, d.meta)));
  // HEAD → 200, GET → 204 (interop item 3: uacme wants exactly 204 on GET). The HEAD answer says
  // Content-Length: 0: without it Node's HTTP client (acme-client) drops the kept-alive connection
  // after every nonce it fetches (test/routes/raw-socket.test.ts).
  app.on(['GET', 'HEAD'], linker.pattern('newNonce', dir), (c) => (c.req.method === 'HEAD' ? c.body(null, 200, { 'Content-Length': '0' }) : c.body(null, 204)));
  // RFC 8555 §7.2 defines only HEAD and GET on newNonce: any other method is 405 with Allow (RFC 9110
  // §15.5.6), not "no such resource" for a resource that exists. A POST still gets a fresh nonce (§6.5).
  app.on(['POST', 'PUT', 'DELETE', 'PATCH'], linker.pattern('newNonce', dir), (c) => {
    c.header('Allow', 'GET, HEAD');
    throw new AcmeProblem('malformed', `newNonce is fetched with HEAD or GET (RFC 8555 §7.2), not ${c.req.method}`, { status: 405 });
  });

  // ---- accounts (RFC 8555 §7.3) ----
  app.post(linker.pattern('newAccount', dir), signed.newAccount, async (c) => {
    const { account, created } = await d.accounts.newAccount(c.var.verified, dir, clientAddress(c, shared.trustProxyHeaders));
    c.header('Location', linker.url('account', dir, account.id));
    return json(c, created ? 201 : 200, renderAccount(linker, account));
  });
  app.post(linker.pattern('account', dir), signed.account, async (c) => {
    const req = c.var.verified;
    if (req.account.id !== c.req.param('id')) throw new AcmeProblem('unauthorized', 'the account URL does not match the signing account');
    const account = await d.accounts.update(req.account, req.payload);
    c.header('Location', linker.url('account', dir, account.id));
    return json(c, 200, renderAccount(linker, account));
  });
  // RFC 8555 §7.1.2.1: the orders list is read with POST-as-GET.
  app.post(linker.pattern('orders', dir), signed.postAsGet, async (c) => {
    const { account } = c.var.verified;
    if (account.id !== c.req.param('id')) throw new AcmeProblem('unauthorized', 'an account can list only its own orders');
    const page = await d.orders.list(account, c.req.query('cursor') ?? null);
    if (page.next) addLink(c, `<${linker.url('orders', dir, account.id)}?cursor=${page.next}>;rel="next"`);
    return json(c, 200, renderOrdersList(linker, dir, page.orderIds));
  });
  app.post(linker.pattern('keyChange', dir), signed.keyChange, async (c) => {
    const req = c.var.verified;
    const account = await d.keyChange.change(req.account, req.newKey);
    c.header('Location', linker.url('account', dir, account.id));
    return json(c, 200, renderAccount(linker, account));
  });

  // ---- orders (RFC 8555 §7.4) ----
  app.post(linker.pattern('newOrder', dir), signed.account, async (c) => {
    const req = c.var.verified;
    const view = await d.orders.newOrder(req.account, req.payload);
    c.header('Location', linker.url('order', dir, view.order.id));
    retryAfterWhileBusy(c, view.status);
    return json(c, 201, renderOrder(linker, view.order, view.status));
  });
  app.post(linker.pattern('order', dir), signed.postAsGet, async (c) => {
    const view = await d.orders.view(c.var.verified.account, resourceId(c));
    retryAfterWhileBusy(c, view.status, issuance);
    return json(c, 200, renderOrder(linker, view.order, view.status));
  });
  app.post(linker.pattern('finalize', dir), signed.account, async (c) => {
    const req = c.var.verified;
    const view = await d.orders.finalize(req.account, resourceId(c), req.payload);
    // interop item 22: 200 + Location of the order, status processing or valid, never ready.
    c.header('Location', linker.url('order', dir, view.order.id));
    retryAfterWhileBusy(c, view.status, issuance);
    return json(c, 200, renderOrder(linker, view.order, view.status));
  });

  // ---- authorizations and challenges (RFC 8555 §7.5) ----
  app.post(linker.pattern('authz', dir), signed.account, async (c) => {
    const req = c.var.verified;
    const id = resourceId(c);
    const view = req.payload === null ? await d.authorizations.view(req.account, id) : await d.authorizations.deactivate(req.account, id, req.payload);
    // An authorization is never "processing" (interop item 25): pending with a challenge being validated waits on the gateway.
    const validating = view.status === 'pending' && view.authz.challenges.some((ch) => ch.status === 'processing');
    retryAfterWhileBusy(c, validating ? 'processing' : view.status, validation);
    return json(c, 200, renderAuthorization(linker, view.authz, view.status));
  });
  app.post(linker.pattern('challenge', dir), signed.account, async (c) => {
    const req = c.var.verified;
    const { challenge, authz } = await d.challenges.respond(req.account, resourceId(c), req.payload);
    // interop item 27: the authorization as Link rel="up".
    addLink(c, `<${linker.url('authz', dir, authz.id)}>;rel="up"`);
    retryAfterWhileBusy(c, challenge.status, validation);
    return json(c, 200, renderChallenge(linker, dir, challenge));
  });

  // ---- certificates (RFC 8555 §7.4.2, §7.6) ----
  app.post(linker.pattern('certificate', dir), signed.postAsGet, async (c) => {
    const pem = await d.certificates.fullchain(c.var.verified.account, resourceId(c));
    // interop item 33: no Link rel="up" when the chain is in the body.
    return c.body(pem, 200, { 'Content-Type': PEM_CHAIN_TYPE });
  });
  app.post(linker.pattern('revokeCert', dir), signed.revoke, async (c) => {
    await d.revocation.revoke(c.var.verified, dir);
    return c.body(null, 200);
  });

  // ---- ACME Renewal Information (RFC 9773 §4.1): unauthenticated GET ----
  app.get(`${linker.pattern('renewalInfo', dir)}/:certId`, async (c) => {
    const info = await d.renewalInfo.lookup(c.req.param('certId'), dir);
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
}
