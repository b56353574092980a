import fs from 'node:fs';
import path from 'node:path';
import type { Harness } from './harness.js';
import type { CommandResult } from './process.js';

// Driver for certbot (Debian bookworm: 2.1.0) in standalone http-01 mode. Everything certbot keeps
// (accounts, lineages, renewal configs, logs) lives under one base dir, so a test can renew or
// re-issue with "the same certbot" later.

export interface CertbotSetup {
  directoryUrl: string;
  /** PEM bundle certbot (python-requests) trusts for the ACME server's https: REQUESTS_CA_BUNDLE. */
  caBundlePath: string;
  /** Port certbot's standalone server listens on = the port the ACME server validates http-01 on. */
  httpPort: number;
  /** Holds config/, work/, logs/. */
  baseDir: string;
  binary?: string;
}

export interface CertbotLineage {
  name: string;
  liveDir: string;
  fullchainPath: string;
  certPath: string;
  chainPath: string;
  privkeyPath: string;
}

function dirArgs(s: CertbotSetup): string[] {
  return [
    '--config-dir', path.join(s.baseDir, 'config'),
    '--work-dir', path.join(s.baseDir, 'work'),
    '--logs-dir', path.join(s.baseDir, 'logs'),
  ];
}

function env(s: CertbotSetup): NodeJS.ProcessEnv {
  // REQUESTS_CA_BUNDLE replaces the system bundle for python-requests (spec §2, certbot row).
  return { ...process.env, REQUESTS_CA_BUNDLE: s.caBundlePath };
}

export function certbotLineage(s: CertbotSetup, name: string): CertbotLineage {
  const liveDir = path.join(s.baseDir, 'config', 'live', name);
  return {
    name,
    liveDir,
    fullchainPath: path.join(liveDir, 'fullchain.pem'),
    certPath: path.join(liveDir, 'cert.pem'),
    chainPath: path.join(liveDir, 'chain.pem'),
    privkeyPath: path.join(liveDir, 'privkey.pem'),
  };
}

/** Attach certbot's own debug log to the harness failure dump. */
export function attachCertbotLog(harness: Harness, s: CertbotSetup): void {
  harness.attachLog('certbot letsencrypt.log', () => fs.readFileSync(path.join(s.baseDir, 'logs', 'letsencrypt.log'), 'utf8'));
}

/**
 * `certbot certonly --standalone` for `domains`; lineage named after `certName` (default: first
 * domain). `expectOk: false` returns a failed run instead of throwing.
 */
export async function certbotCertonly(
  harness: Harness,
  s: CertbotSetup,
  domains: string[],
  opts: { certName?: string; extraArgs?: string[]; expectOk?: boolean } = {},
): Promise<{ result: CommandResult; lineage: CertbotLineage }> {
  const certName = opts.certName ?? domains[0]!;
  const args = [
    'certonly',
    '--standalone',
    '--server', s.directoryUrl,
    '--http-01-port', String(s.httpPort),
    '--http-01-address', '127.0.0.1',
    ...dirArgs(s),
    '--register-unsafely-without-email',
    '--agree-tos',
    '--non-interactive',
    '--cert-name', certName,
    ...domains.flatMap((d) => ['-d', d]),
    ...(opts.extraArgs ?? []),
  ];
  const run = opts.expectOk === false ? harness.run.bind(harness) : harness.runOk.bind(harness);
  const result = await run(s.binary ?? 'certbot', args, { env: env(s), timeoutMs: 180_000 });
  return { result, lineage: certbotLineage(s, certName) };
}

/** `certbot renew --force-renewal` over every lineage under baseDir (server and port come from the renewal conf). */
export async function certbotRenew(harness: Harness, s: CertbotSetup, extraArgs: string[] = []): Promise<CommandResult> {
  return harness.runOk(
    s.binary ?? 'certbot',
    // --no-random-sleep-on-renew: non-interactive `renew` otherwise sleeps up to 8 minutes first.
    ['renew', '--force-renewal', '--no-random-sleep-on-renew', '--non-interactive', ...dirArgs(s), ...extraArgs],
    { env: env(s), timeoutMs: 180_000 },
  );
}

/** Account ids certbot has stored (one directory with regr.json per account, any server). */
export function certbotAccountIds(s: CertbotSetup): string[] {
  const root = path.join(s.baseDir, 'config', 'accounts');
  const ids: string[] = [];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (fs.existsSync(path.join(full, 'regr.json'))) ids.push(e.name);
        else walk(full);
      }
    }
  };
  walk(root);
  return ids.sort();
}

/** The account URL certbot registered (regr.json "uri"), for the single stored account. */
export function certbotAccountUri(s: CertbotSetup): string | undefined {
  const root = path.join(s.baseDir, 'config', 'accounts');
  const find = (dir: string): string | undefined => {
    if (!fs.existsSync(dir)) return undefined;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (!e.isDirectory()) continue;
      const regr = path.join(full, 'regr.json');
      if (fs.existsSync(regr)) return (JSON.parse(fs.readFileSync(regr, 'utf8')) as { uri?: string }).uri;
      const nested = find(full);
      if (nested) return nested;
    }
    return undefined;
  };
  return find(root);
}

/** `certbot revoke --cert-name <name>` signed with the account key; keeps the lineage files. */
export async function certbotRevoke(harness: Harness, s: CertbotSetup, certName: string, reason = 'superseded'): Promise<CommandResult> {
  return harness.runOk(
    s.binary ?? 'certbot',
    ['revoke', '--cert-name', certName, '--reason', reason, '--no-delete-after-revoke', '--non-interactive', '--server', s.directoryUrl, ...dirArgs(s)],
    { env: env(s), timeoutMs: 120_000 },
  );
}
