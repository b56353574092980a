import type { JWK } from 'jose';
import type { Linker } from '../acme/links.js';
import { AcmeProblem } from '../acme/problems.js';
import type { Account } from '../acme/types.js';
import type { ServiceContext } from './context.js';

// Account key rollover (RFC 8555 §7.3.5), the use case: every JWS rule of it (inner signature, url,
// account, oldKey, a new key that differs) was checked in auth/key-rollover.ts; what is left is the
// store write, which alone knows whether another account holds the new key.

/** The verified new key. */
export interface NewAccountKey {
  jwk: JWK;
  thumbprint: string;
}

export class KeyChangeService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly linker: Linker,
  ) {}

  async change(account: Account, newKey: NewAccountKey): Promise<Account> {
    const result = await this.ctx.store.accounts.changeKey(account.id, account.thumbprint, newKey.jwk, newKey.thumbprint, this.ctx.clock.now());
    if (result.ok) {
      this.ctx.logger.info({ accountId: account.id }, 'account key changed');
      return result.account;
    }
    if (result.reason === 'conflict') {
      // RFC 8555 §7.3.5: 409 Conflict with the Location of the account that has the key.
      throw new AcmeProblem('malformed', 'the new key is already in use by another account', {
        status: 409,
        headers: { Location: this.linker.url('account', account.directory, result.conflictingAccountId) },
      });
    }
    throw new AcmeProblem('unauthorized', 'the account changed while its key was being rolled over');
  }
}
