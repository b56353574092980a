import { AcmeProblem } from '../acme/problems.js';
import type { Account } from '../acme/types.js';
import type { ServiceContext } from './context.js';

/** Certificate download (RFC 8555 §7.4.2). */
export class CertificateService {
  constructor(private readonly ctx: ServiceContext) {}

  async fullchain(account: Account, certId: string): Promise<string> {
    const cert = await this.ctx.store.certificates.get(certId);
    if (!cert || cert.accountId !== account.id) throw new AcmeProblem('malformed', 'no such certificate', { status: 404 });
    return cert.fullchainPem;
  }
}
