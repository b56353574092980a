import { createHash, webcrypto } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { missingPrerequisite } from '../../test/support/prerequisites.js';
import { AddressPolicy } from '../acme/address-policy.js';
import type { DnsResolver } from '../platform/dns.js';
import { ACME_IDENTIFIER_OID } from './acme-tls-certificate.js';
import { reverseDnsName } from './ip.js';
import { createTlsAlpn01Validator } from './tls-alpn01.js';
import type { ValidationOutcome, ValidationRequest } from './types.js';

const KEY_AUTH = 'alpn-token.thumbprint_0123456789abcdefghijklmnopqrstuv';

/** DER of Authorization ::= OCTET STRING (SIZE (32)) (RFC 8737 §3). */
function acmeIdentifierValue(keyAuthorization: string): Buffer {
  return Buffer.concat([Buffer.from([0x04, 0x20]), createHash('sha256').update(keyAuthorization).digest()]);
}

interface CertSpec {
  sans: x509.JsonGeneralNames;
  acme?: { critical: boolean; value: Buffer };
}

async function selfSigned(spec: CertSpec): Promise<tls.SecureContext> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const extensions: x509.Extension[] = [new x509.SubjectAlternativeNameExtension(spec.sans)];
  if (spec.acme) extensions.push(new x509.Extension(ACME_IDENTIFIER_OID, spec.acme.critical, spec.acme.value));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=ACME tls-alpn-01 test',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    keys,
    signingAlgorithm: alg,
    extensions,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
  return tls.createSecureContext({ key, cert: cert.toString('pem') });
}

const loopbackResolver: DnsResolver = {
  servers: ['fake:53'],
  serversFor: () => ['fake:53'],
  resolveAddresses: async () => ['127.0.0.1'],
  resolveTxt: async () => [],
  resolveCaa: async () => [],
};
/** The trial-mode policy: 127.0.0.1 and ::1 are where these tests' servers listen. */
const TRIAL = new AddressPolicy({ trialLoopback: true });

function problemOf(outcome: ValidationOutcome) {
  if (outcome.valid) throw new Error('expected an invalid outcome');
  return outcome.problem;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

async function close(server: net.Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('tls-alpn-01 validator', () => {
  const good = acmeIdentifierValue(KEY_AUTH);
  // The certificate served depends on the SNI, so one server covers every certificate case.
  const specs: Record<string, CertSpec> = {
    'good.example.test': { sans: [{ type: 'dns', value: 'good.example.test' }], acme: { critical: true, value: good } },
    'wrong-digest.example.test': { sans: [{ type: 'dns', value: 'wrong-digest.example.test' }], acme: { critical: true, value: acmeIdentifierValue('other') } },
    'raw-digest.example.test': { sans: [{ type: 'dns', value: 'raw-digest.example.test' }], acme: { critical: true, value: good.subarray(2) } },
    'no-extension.example.test': { sans: [{ type: 'dns', value: 'no-extension.example.test' }] },
    'not-critical.example.test': { sans: [{ type: 'dns', value: 'not-critical.example.test' }], acme: { critical: false, value: good } },
    'two-sans.example.test': {
      sans: [
        { type: 'dns', value: 'two-sans.example.test' },
        { type: 'dns', value: 'other.example.test' },
      ],
      acme: { critical: true, value: good },
    },
    'wrong-san.example.test': { sans: [{ type: 'dns', value: 'someone-else.example.test' }], acme: { critical: true, value: good } },
    [reverseDnsName('127.0.0.1')]: { sans: [{ type: 'ip', value: '127.0.0.1' }], acme: { critical: true, value: good } },
    [reverseDnsName('::1')]: { sans: [{ type: 'ip', value: '0:0:0:0:0:0:0:1' }], acme: { critical: true, value: good } },
  };
  const contexts = new Map<string, tls.SecureContext>();
  const sniSeen: string[] = [];
  let alpnServer: tls.Server;
  let alpnPort: number;
  let noAlpnServer: tls.Server;
  let noAlpnPort: number;
  let h2OnlyServer: tls.Server;
  let h2OnlyPort: number;
  let silentServer: net.Server;
  let silentPort: number;
  const silentSockets = new Set<net.Socket>();
  const onSilentConnection: Array<(s: net.Socket) => void> = [];
  /** The next connection the silent server accepts (it never answers the ClientHello). */
  const nextSilentConnection = () => new Promise<net.Socket>((resolve) => onSilentConnection.push(resolve));
  /** A server whose certificate is right in every way but names 127.0.0.2, for any SNI. */
  let otherAddressServer: tls.Server;
  let otherAddressPort: number;

  beforeAll(async () => {
    for (const [name, spec] of Object.entries(specs)) contexts.set(name, await selfSigned(spec));
    const SNICallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => {
      sniSeen.push(servername);
      const ctx = contexts.get(servername);
      if (ctx) cb(null, ctx);
      else cb(new Error(`no certificate for ${servername}`));
    };
    alpnServer = tls.createServer({ SNICallback, ALPNProtocols: ['acme-tls/1'] }, (s) => s.end());
    alpnPort = await listen(alpnServer);
    noAlpnServer = tls.createServer({ SNICallback }, (s) => s.end());
    noAlpnPort = await listen(noAlpnServer);
    h2OnlyServer = tls.createServer({ SNICallback, ALPNProtocols: ['h2'] }, (s) => s.end());
    h2OnlyPort = await listen(h2OnlyServer);
    silentServer = net.createServer((s) => {
      silentSockets.add(s);
      s.on('close', () => silentSockets.delete(s));
      s.resume(); // reads (and ignores) the ClientHello, so it sees the client hang up
      for (const cb of onSilentConnection.splice(0)) cb(s);
    });
    silentPort = await listen(silentServer);
    const otherAddress = await selfSigned({ sans: [{ type: 'ip', value: '127.0.0.2' }], acme: { critical: true, value: good } });
    otherAddressServer = tls.createServer({ SNICallback: (_name, cb) => cb(null, otherAddress), ALPNProtocols: ['acme-tls/1'] }, (s) => s.end());
    otherAddressPort = await listen(otherAddressServer);
  });

  afterAll(async () => {
    for (const s of silentSockets) s.destroy();
    await Promise.all([close(alpnServer), close(noAlpnServer), close(h2OnlyServer), close(silentServer), close(otherAddressServer)]);
  });

  const dnsReq = (value: string, extra: Partial<ValidationRequest> = {}): ValidationRequest => ({
    identifier: { type: 'dns', value },
    token: 'alpn-token',
    keyAuthorization: KEY_AUTH,
    ...extra,
  });
  const validator = (port = alpnPort, timeoutMs = 5_000) => createTlsAlpn01Validator({ addressPolicy: TRIAL, resolver: loopbackResolver, port, timeoutMs });

  it('accepts a proper validation certificate, sending the name as SNI', async () => {
    const v = validator();
    expect(v.type).toBe('tls-alpn-01');
    sniSeen.length = 0;
    const outcome = await v.validate(dnsReq('good.example.test'));
    expect(outcome).toEqual({
      valid: true,
      record: { hostname: 'good.example.test', port: alpnPort, addressesResolved: ['127.0.0.1'], addressUsed: '127.0.0.1', resolvers: ['fake:53'] },
    });
    expect(sniSeen).toEqual(['good.example.test']);
  });

  it('accepts an IP identifier with an iPAddress SAN, SNI being the reverse name (RFC 8738 §6)', async () => {
    sniSeen.length = 0;
    const outcome = await validator().validate({ identifier: { type: 'ip', value: '127.0.0.1' }, token: 'alpn-token', keyAuthorization: KEY_AUTH });
    expect(outcome.valid).toBe(true);
    expect(outcome.record.addressUsed).toBe('127.0.0.1');
    expect(sniSeen).toEqual(['1.0.0.127.in-addr.arpa']);
  });

  it.each([
    ['wrong-digest.example.test', /acmeIdentifier extension value is 0420/],
    ['raw-digest.example.test', /acmeIdentifier extension value is [0-9a-f]{64},/],
    ['no-extension.example.test', /no acmeIdentifier extension/],
    ['not-critical.example.test', /not marked critical/],
    ['two-sans.example.test', /exactly one entry, found 2 \(dns:two-sans.example.test, dns:other.example.test\)/],
    ['wrong-san.example.test', /subjectAltName is dns:someone-else.example.test, expected dns:wrong-san.example.test/],
  ])('rejects the certificate served for %s as unauthorized', async (name, detail) => {
    const p = problemOf(await validator().validate(dnsReq(name)));
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toMatch(detail);
    expect(p.detail).toContain(`127.0.0.1:${alpnPort}`);
    expect(p.identifier).toEqual({ type: 'dns', value: name });
  });

  it('rejects an ip identifier whose certificate names a different address', async () => {
    // Everything else is right (acmeIdentifier for this key authorization, critical, one SAN): only
    // the address differs, so the SAN comparison is what refuses it (RFC 8738 §6).
    const p = problemOf(await validator(otherAddressPort).validate({ identifier: { type: 'ip', value: '127.0.0.1' }, token: 'alpn-token', keyAuthorization: KEY_AUTH }));
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toMatch(/subjectAltName is ip:127\.0\.0\.2, expected ip:127\.0\.0\.1/);
    expect(p.identifier).toEqual({ type: 'ip', value: '127.0.0.1' });
  });

  it('rejects an ip identifier whose certificate holds the digest of another key authorization', async () => {
    const p = problemOf(await validator().validate({ identifier: { type: 'ip', value: '127.0.0.1' }, token: 't', keyAuthorization: 'other.key-auth' }));
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toContain('acmeIdentifier extension value is 0420');
  });

  it('is unauthorized when the server negotiates no ALPN protocol', async () => {
    const p = problemOf(await validator(noAlpnPort).validate(dnsReq('good.example.test')));
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toContain('did not negotiate ALPN "acme-tls/1" (negotiated no protocol)');
  });

  it('is a tls problem when the handshake fails (server only speaks h2, or has no certificate for the name)', async () => {
    const h2 = problemOf(await validator(h2OnlyPort).validate(dnsReq('good.example.test')));
    expect(h2.type).toBe('tls');
    expect(h2.detail).toContain(`127.0.0.1:${h2OnlyPort} (SNI good.example.test)`);
    expect(problemOf(await validator().validate(dnsReq('unknown.example.test'))).type).toBe('tls');
  });

  it('is a connection problem when nothing listens', async () => {
    const closed = net.createServer();
    const port = await listen(closed);
    await close(closed);
    const p = problemOf(await validator(port).validate(dnsReq('good.example.test')));
    expect(p.type).toBe('connection');
    expect(p.detail).toContain(`Connection refused by 127.0.0.1:${port}`);
  });

  it('times out a server that never completes the handshake, as a connection problem, at the deadline and not before', async () => {
    // Fake timers drive the validation deadline (outcome.ts Deadline); the socket stays real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const connected = nextSilentConnection();
      let settled = false;
      const outcome = validator(silentPort, 300)
        .validate(dnsReq('good.example.test'))
        .finally(() => (settled = true));
      const socket = await connected;
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await vi.advanceTimersByTimeAsync(299);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const p = problemOf(await outcome);
      expect(p.type).toBe('connection');
      expect(p.detail).toBe(`Timeout after 300 ms while connecting to 127.0.0.1:${silentPort} (SNI good.example.test) for tls-alpn-01`);
      // The validator hung up: the server sees its connection closed.
      await closed;
    } finally {
      vi.useRealTimers();
    }
  });

  it('stops when the caller aborts, long before its own deadline', async () => {
    const controller = new AbortController();
    const connected = nextSilentConnection();
    const outcome = validator(silentPort, 600_000).validate(dnsReq('good.example.test', { signal: controller.signal }));
    const socket = await connected;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    controller.abort();
    const p = problemOf(await outcome);
    expect(p.type).toBe('connection');
    expect(p.detail).toContain('cancelled');
    await closed;
  });

  it('is a dns problem when the name does not resolve', async () => {
    const { DnsError } = await import('../platform/dns.js');
    const nx: DnsResolver = { ...loopbackResolver, resolveAddresses: async (n) => Promise.reject(new DnsError('nxdomain', 'A/AAAA', n, 'ENOTFOUND')) };
    const p = problemOf(await createTlsAlpn01Validator({ addressPolicy: TRIAL, resolver: nx, port: alpnPort, timeoutMs: 5_000 }).validate(dnsReq('good.example.test')));
    expect(p.type).toBe('dns');
    expect(p.detail).toContain('NXDOMAIN looking up A/AAAA for good.example.test');
  });

  it('validates an IPv6 identifier: nibble ip6.arpa SNI, iPAddress SAN compared as bytes', async (ctx) => {
    const server = tls.createServer({ SNICallback: (name, cb) => cb(null, contexts.get(name)), ALPNProtocols: ['acme-tls/1'] }, (s) => s.end());
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(0, '::1', () => resolve(true));
    });
    if (!listening) missingPrerequisite('the IPv6 loopback (listening on ::1)', ctx);
    try {
      const port = (server.address() as net.AddressInfo).port;
      const outcome = await validator(port).validate({ identifier: { type: 'ip', value: '::1' }, token: 'alpn-token', keyAuthorization: KEY_AUTH });
      expect(outcome).toEqual({ valid: true, record: { hostname: '::1', port, addressUsed: '::1' } });
    } finally {
      await close(server);
    }
  });
});
