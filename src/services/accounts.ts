import type { JWK } from 'jose';
import { accountUpdatePayload, newAccountPayload, parsePayload } from '../acme/payloads.js';
import { AcmeProblem } from '../acme/problems.js';
import { clientKey, newAccountsSubject } from '../acme/rate-limits.js';
import type { Account } from '../acme/types.js';
import { EabKeyUnavailable } from '../store/types.js';
import { eventsOf, newId, type ServiceContext } from './context.js';
import { eabKeyOf } from './account-key.js';
import { counted, limitsFor, underLimits } from './rate-limits.js';

// Accounts (RFC 8555 §7.3). The JWS and the externalAccountBinding were checked by auth/ (the
// new-account entry point); this is the policy around them.

/** What the new-account use case takes from the verified request. */
export interface NewAccountRequest {
  payload: Record<string, unknown> | null;
  /** The account key (the JWS "jwk") and its thumbprint. */
  jwk: JWK;
  thumbprint: string;
  /**
   * The outcome of the externalAccountBinding check (RFC 8555 §7.3.4), null when none was sent. A
   * refusal is thrown here, in its place in the sequence, not by auth.
   */
  externalAccountBinding: { ok: true; keyId: string } | { ok: false; problem: AcmeProblem } | null;
}

export type NewAccountOutcome = { account: Account; created: boolean };

/** RFC 8555 §7.3: contacts are URLs; we take mailto: only, one address each, no hfields. */
export function checkContacts(contact: string[]): string[] {
  for (const c of contact) {
    if (!c.startsWith('mailto:')) {
      throw new AcmeProblem('unsupportedContact', `contact "${c}" is not supported: only mailto: URLs are`);
    }
    const address = c.slice('mailto:'.length);
    if (address.includes('?') || address.includes(',') || !/^[^@\s]+@[^@\s]+$/.test(address)) {
      throw new AcmeProblem('invalidContact', `contact "${c}" is not a single e-mail address`);
    }
  }
  return contact;
}

export class AccountService {
  constructor(private readonly ctx: ServiceContext) {}

  /** `clientAddress`: the client's IP address (http/client-address.ts), for newAccountsPerIp; null when unknown. */
  async newAccount(req: NewAccountRequest, directory: string, clientAddress: string | null = null): Promise<NewAccountOutcome> {
    const payload = parsePayload(newAccountPayload, req.payload, 'newAccount');
    const { jwk, thumbprint } = req;
    const existing = await this.ctx.store.accounts.findByThumbprint(directory, thumbprint);
    if (existing) {
      // RFC 8555 §7.3.6: a deactivated account's key is refused like every other request it signs
      // (Boulder and Pebble do the same), so clients stop here instead of failing later.
      if (existing.status !== 'valid') throw new AcmeProblem('unauthorized', `the account of this key is ${existing.status}`, { status: 401 });
      // RFC 8555 §7.3.1: a known key answers 200 with the account, whatever else was sent.
      return { account: existing, created: false };
    }
    if (payload.onlyReturnExisting) {
      throw new AcmeProblem('accountDoesNotExist', 'no account exists with this key');
    }
    const contact = checkContacts(payload.contact ?? []);
    if (this.ctx.settings.termsOfServiceRequired && payload.termsOfServiceAgreed !== true) {
      throw new AcmeProblem('userActionRequired', 'the terms of service must be agreed to (termsOfServiceAgreed: true)');
    }
    let eabKeyId: string | null = null;
    if (req.externalAccountBinding) {
      if (!req.externalAccountBinding.ok) throw req.externalAccountBinding.problem;
      eabKeyId = req.externalAccountBinding.keyId;
    } else if (this.ctx.settings.externalAccountRequired) {
      throw new AcmeProblem('externalAccountRequired', 'this server requires an externalAccountBinding (RFC 8555 §7.3.4)');
    }
    // newAccountsPerIp (RFC 8555 §6.6), counted per client and directory in the write that creates
    // the account; the EAB key being bound may carry its own value for it.
    const client = clientAddress === null ? null : clientKey(clientAddress);
    const limits = limitsFor(this.ctx, await eabKeyOf(this.ctx, eabKeyId));
    let outcome: NewAccountOutcome;
    try {
      outcome = await underLimits(
        this.ctx,
        limits,
        () => ({ what: `new accounts from ${client}` }),
        () =>
          this.ctx.store.accounts.createOrGet({
            id: newId(this.ctx),
            directory,
            jwk,
            thumbprint,
            contact,
            termsOfServiceAgreed: payload.termsOfServiceAgreed === true,
            eabKeyId,
            now: this.ctx.clock.now(),
            rateLimit: client === null ? null : counted(limits.newAccountsPerIp, newAccountsSubject(directory, client)),
          }),
        { client, directory },
      );
    } catch (err) {
      // One EAB key, one account: another newAccount bound it since it was checked.
      if (err instanceof EabKeyUnavailable) throw new AcmeProblem('unauthorized', 'the external account key is already bound to an account');
      throw err;
    }
    if (outcome.created) {
      const a = outcome.account;
      const events = eventsOf(this.ctx);
      await events.record({ action: 'account.created', accountId: a.id, directory: a.directory, eabKeyId, detail: { contact: a.contact } });
      if (eabKeyId) await events.record({ action: 'eab.used', accountId: a.id, directory: a.directory, eabKeyId });
    }
    return outcome;
  }

  /** POST to the account URL: read (POST-as-GET or {}), update contact, or deactivate (RFC 8555 §7.3.2, §7.3.6). */
  async update(account: Account, payload: Record<string, unknown> | null): Promise<Account> {
    if (payload === null) return account;
    const body = parsePayload(accountUpdatePayload, payload, 'account update');
    // RFC 8555 §7.3.2: updates to "status" other than deactivation, "orders", "termsOfServiceAgreed"
    // and unknown fields are ignored (the Python acme library sends the account back as it read it).
    if (body.status === 'deactivated') {
      const done = await this.ctx.store.accounts.deactivate(account.id, this.ctx.clock.now());
      if (!done) throw new AcmeProblem('unauthorized', 'the account is not valid');
      await eventsOf(this.ctx).record({ action: 'account.deactivated', accountId: account.id, directory: account.directory });
      return done;
    }
    if (body.contact !== undefined) {
      const updated = await this.ctx.store.accounts.updateContact(account.id, checkContacts(body.contact), this.ctx.clock.now());
      if (!updated) throw new AcmeProblem('unauthorized', 'the account is not valid');
      return updated;
    }
    return account;
  }
}
