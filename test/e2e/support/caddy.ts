import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import type { Harness } from './harness.js';
import { sleep } from './http.js';
import type { ManagedProcess } from './process.js';

// Driver for Caddy (Debian bookworm: 2.6.2 = certmagic 0.17.2 / acmez 1.0.4). Its automatic HTTPS is
// pointed at the gateway with the global `acme_ca` / `acme_ca_root` options (spec acme-interop §2,
// Caddy row) and listens on the gateway's non-privileged validation ports (http_port = http-01 port,
// https_port = tls-alpn-01 port). Everything Caddy keeps lives in one temp dir.

export interface CaddySite {
  name: string;
  /** Which challenge Caddy may use for this site (the other one is disabled in its ACME issuer). */
  challenge: 'http-01' | 'tls-alpn-01';
  /** Body served by `respond`. */
  body: string;
}

export interface CaddySetup {
  directoryUrl: string;
  rootPemPath: string;
  httpPort: number;
  httpsPort: number;
  sites: CaddySite[];
  binary?: string;
}

export interface Caddy {
  dir: string;
  caddyfilePath: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export function caddyfile(s: CaddySetup, storageDir: string): string {
  const sites = s.sites.map((site) =>
    [
      `${site.name} {`,
      '\ttls {',
      '\t\tissuer acme {',
      // Caddy 2.6 Caddyfile acme issuer subdirectives (caddytls ACMEIssuer.UnmarshalCaddyfile).
      `\t\t\t${site.challenge === 'http-01' ? 'disable_tlsalpn_challenge' : 'disable_http_challenge'}`,
      '\t\t}',
      '\t}',
      `\trespond ${JSON.stringify(site.body)}`,
      '}',
    ].join('\n'),
  );
  return [
    '{',
    '\tadmin off',
    `\tacme_ca ${s.directoryUrl}`,
    `\tacme_ca_root ${s.rootPemPath}`,
    `\thttp_port ${s.httpPort}`,
    `\thttps_port ${s.httpsPort}`,
    `\tstorage file_system ${storageDir}`,
    // The PCA leaves carry no OCSP URL; don't let Caddy try.
    '\tocsp_stapling off',
    '}',
    ...sites,
    '',
  ].join('\n');
}

export async function startCaddy(harness: Harness, s: CaddySetup): Promise<Caddy> {
  const dir = harness.tempDir('caddy');
  const storageDir = path.join(dir, 'storage');
  const caddyfilePath = path.join(dir, 'Caddyfile');
  fs.writeFileSync(caddyfilePath, caddyfile(s, storageDir));
  const proc = harness.spawn('caddy', s.binary ?? 'caddy', ['run', '--config', caddyfilePath, '--adapter', 'caddyfile'], {
    cwd: dir,
    // Caddy writes autosave.json and its data dir under these; keep them in the temp dir.
    env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_DATA_HOME: path.join(dir, 'data') },
  });
  harness.attachLog('Caddyfile', () => fs.readFileSync(caddyfilePath, 'utf8'));
  return { dir, caddyfilePath, process: proc, stop: async () => void (await proc.stop(10_000)) };
}

export interface ServedChain {
  /** PEM of every certificate the server sent, leaf first. */
  pems: string[];
  /** Bytes of the HTTP response to GET / over that connection. */
  body: string;
}

function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/**
 * TLS handshake to 127.0.0.1:<port> with SNI `name`, trusting only `caPem`, then a GET / over it.
 * Rejects when the handshake fails or the certificate does not verify for `name`.
 */
export function fetchServedChain(port: number, name: string, caPem: string): Promise<ServedChain> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: name, ca: caPem, ALPNProtocols: ['http/1.1'], timeout: 5_000 }, () => {
      const pems: string[] = [];
      let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        pems.push(derToPem(cert.raw));
        cert = cert.issuerCertificate;
      }
      let body = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => (body += c));
      socket.on('end', () => resolve({ pems, body }));
      socket.write(`GET / HTTP/1.1\r\nHost: ${name}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('timeout', () => socket.destroy(new Error('TLS connection timed out')));
    socket.on('error', reject);
  });
}

/** Polls until the server presents a certificate for `name` that verifies against `caPem`. */
export async function waitForServedChain(caddy: Caddy, port: number, name: string, caPem: string, timeoutMs = 60_000): Promise<ServedChain> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt yet';
  for (;;) {
    if (!caddy.process.isRunning()) throw new Error(`caddy exited:\n${caddy.process.output()}`);
    try {
      return await fetchServedChain(port, name, caPem);
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`caddy did not serve a trusted certificate for ${name} within ${timeoutMs} ms (${last})`);
    await sleep(500);
  }
}
