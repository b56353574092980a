import type { DnsResolver } from '../platform/dns.js';
import type { Logger } from '../platform/logger.js';
import { NetError, nodeDialer, type Dialer, type TlsProbeResult } from '../platform/net.js';
import { acmeTlsCertificateProblem } from './acme-tls-certificate.js';
import { chooseAddress, type AddressCheck } from './address-guard.js';
import { formatHostPort, reverseDnsName } from './ip.js';
import { Deadline, deadlineBoundValidator, errorText, failure, interruptedFailure, success } from './outcome.js';
import type { ChallengeValidator, ValidationOutcome, ValidationRecord, ValidationRequest } from './types.js';

// tls-alpn-01 (RFC 8737; RFC 8738 §6 for IP identifiers). The address connected to — the IP
// identifier itself or what the name resolved to — is checked against the address policy first.

/** RFC 8737 §6.2. */
export const ACME_TLS_ALPN_PROTOCOL = 'acme-tls/1';

export interface TlsAlpn01ValidatorOptions {
  resolver: DnsResolver;
  /** Where the validator may connect; checked on the address before the handshake. */
  addressPolicy: AddressCheck;
  /** The network; tests inject one that records every connect attempt. */
  dialer?: Pick<Dialer, 'tlsProbe'>;
  /** Config validation.tlsAlpnPort; RFC 8737 §3 says 443, other values are for test set-ups. */
  port?: number;
  /** For the whole validation: lookup, connection and handshake. Default 10 s. */
  timeoutMs?: number;
  logger?: Logger;
}

export function createTlsAlpn01Validator(opts: TlsAlpn01ValidatorOptions): ChallengeValidator {
  const port = opts.port ?? 443;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const dialer = opts.dialer ?? nodeDialer;
  const { resolver, addressPolicy, logger } = opts;

  async function run(req: ValidationRequest, deadline: Deadline): Promise<ValidationOutcome> {
    const id = req.identifier;
    const record: ValidationRecord = { hostname: id.value, port };

    let servername: string;
    if (id.type === 'ip') {
      // RFC 8738 §6: connect to the address itself, SNI is its reverse-DNS name.
      try {
        servername = reverseDnsName(id.value);
      } catch {
        return failure('malformed', `${id.value} is not a valid IP address`, id, record);
      }
    } else {
      servername = id.value;
    }
    const choice = await chooseAddress({
      hostname: id.value,
      target: `${formatHostPort(id.value, port)} for tls-alpn-01`,
      resolver,
      policy: addressPolicy,
      deadline,
      identifier: id,
      record,
    });
    if (!choice.ok) return choice.outcome;
    const address = choice.address;
    const target = `${formatHostPort(address, port)} (SNI ${servername})`;

    let probe: TlsProbeResult;
    try {
      probe = await dialer.tlsProbe({ address, port, servername, alpnProtocols: [ACME_TLS_ALPN_PROTOCOL], signal: deadline.signal });
    } catch (err) {
      if (deadline.cause) return interruptedFailure(deadline, `connecting to ${target} for tls-alpn-01`, id, record);
      if (err instanceof NetError && err.kind === 'tls') {
        return failure('tls', `TLS handshake with ${target} failed offering ALPN "${ACME_TLS_ALPN_PROTOCOL}": ${err.message}`, id, record);
      }
      if (err instanceof NetError && err.kind === 'refused') return failure('connection', `Connection refused by ${target}`, id, record);
      return failure('connection', `Connecting to ${target} for tls-alpn-01 failed: ${errorText(err)}`, id, record);
    }
    logger?.debug({ identifier: id, address, alpn: probe.alpnProtocol }, 'tls-alpn-01 handshake');

    // RFC 8737 §3: the server must negotiate acme-tls/1, not merely accept a connection.
    if (probe.alpnProtocol !== ACME_TLS_ALPN_PROTOCOL) {
      const got = probe.alpnProtocol ? `"${probe.alpnProtocol}"` : 'no protocol';
      return failure('unauthorized', `The server at ${target} did not negotiate ALPN "${ACME_TLS_ALPN_PROTOCOL}" (negotiated ${got})`, id, record);
    }
    if (!probe.certificateDer) return failure('unauthorized', `The server at ${target} presented no certificate`, id, record);
    const wrong = acmeTlsCertificateProblem(probe.certificateDer, id, req.keyAuthorization);
    if (wrong) return failure('unauthorized', `Incorrect validation certificate for tls-alpn-01 from ${target}: ${wrong}`, id, record);
    return success(record);
  }

  return deadlineBoundValidator('tls-alpn-01', timeoutMs, logger, run);
}
