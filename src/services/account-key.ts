import { AcmeProblem } from '../acme/problems.js';
import type { EabKeyRecord } from '../store/types.js';
import type { ServiceContext } from './context.js';

// The EAB key behind an account (RFC 8555 §7.3.4), read where a use case needs what the operator
// set on it: the narrowing of the issuance policy, rate-limit overrides, pre-authorized scopes.

/**
 * The key of this id; null when the account has none. A key an account names but the store has
 * lost fails closed: issuing without its rules could give the account more than the operator meant.
 */
export async function eabKeyOf(ctx: Pick<ServiceContext, 'store' | 'logger'>, eabKeyId: string | null): Promise<EabKeyRecord | null> {
  if (!eabKeyId) return null;
  const key = await ctx.store.eabKeys.get(eabKeyId);
  if (!key) {
    ctx.logger.error({ eabKeyId }, 'the EAB key of an account is missing; refusing to go on without its rules');
    throw new AcmeProblem('serverInternal', "the account's external account key is missing; contact the operator");
  }
  return key;
}
