import { parsePayload, authzUpdatePayload } from '../acme/payloads.js';
import { AcmeProblem } from '../acme/problems.js';
import { effectiveAuthzStatus } from '../acme/status.js';
import type { Account, Authorization } from '../acme/types.js';
import type { ServiceContext } from './context.js';

/** Authorizations (RFC 8555 §7.5). */
export class AuthorizationService {
  constructor(private readonly ctx: ServiceContext) {}

  async view(account: Account, authzId: string): Promise<{ authz: Authorization; status: Authorization['status'] }> {
    const authz = await this.ctx.store.authorizations.get(authzId);
    if (!authz || authz.accountId !== account.id) throw new AcmeProblem('malformed', 'no such authorization', { status: 404 });
    const status = effectiveAuthzStatus(authz, this.ctx.clock.now());
    if (status === 'expired') {
      // certbot cannot parse "expired" (interop item 25): answer like Boulder.
      throw new AcmeProblem('malformed', 'Expired authorization', { status: 404 });
    }
    return { authz, status };
  }

  /** RFC 8555 §7.5.2: the only change a client may make is {"status": "deactivated"}. */
  async deactivate(account: Account, authzId: string, payload: Record<string, unknown>): Promise<{ authz: Authorization; status: Authorization['status'] }> {
    const { authz } = await this.view(account, authzId);
    if (Object.keys(payload).length === 0) return { authz, status: effectiveAuthzStatus(authz, this.ctx.clock.now()) };
    parsePayload(authzUpdatePayload, payload, 'authorization update');
    const done = await this.ctx.store.authorizations.deactivate(authz.id, this.ctx.clock.now());
    if (!done) throw new AcmeProblem('malformed', `the authorization is ${authz.status} and cannot be deactivated`);
    return { authz: done, status: done.status };
  }
}
