import { startHttp01Responder, trustAcmeServerCa, type Http01Responder } from './acmeClient.js';
import { startChallTestSrv } from './challtestsrv.js';
import { startGateway, type Gateway, type GatewayOptions } from './gateway.js';
import type { Harness } from './harness.js';

export interface AcmeClientGateway {
  gateway: Gateway;
  responder: Http01Responder;
}

/**
 * The start the acme-client files share: challtestsrv as the gateway's DNS (every name → 127.0.0.1),
 * the gateway, its root trusted by acme-client, and an http-01 responder on the validation port.
 */
export async function startAcmeClientGateway(h: Harness, opts: Omit<GatewayOptions, 'dnsResolvers'> = {}): Promise<AcmeClientGateway> {
  const dns = await startChallTestSrv(h);
  const gateway = await startGateway(h, { ...opts, dnsResolvers: [dns.dnsAddress] });
  trustAcmeServerCa(gateway.rootPem());
  const responder = await startHttp01Responder(gateway.validationHttpPort);
  return { gateway, responder };
}
