import type { Harness } from './harness.js';
import { legoCertificateFiles, type LegoCertificateFiles, type LegoSetup } from './lego.js';
import type { CommandResult } from './process.js';

// More lego (4.9.1) command lines for the issue-3 tests: EAB registration, revoke, and runs that are
// expected to fail. Same conventions as support/lego.ts (one --path per LegoSetup, LEGO_CA_CERTIFICATES).

export interface LegoEab {
  keyId: string;
  hmacKey: string;
}

function globalArgs(s: LegoSetup, domains: string[], eab?: LegoEab): string[] {
  return [
    '--server', s.directoryUrl,
    '--path', s.basePath,
    '--accept-tos',
    '--email', s.email,
    ...(eab ? ['--eab', '--kid', eab.keyId, `--hmac=${eab.hmacKey}`] : []),
    ...domains.flatMap((d) => ['--domains', d]),
  ];
}

const legoEnv = (s: LegoSetup): NodeJS.ProcessEnv => ({ ...process.env, LEGO_CA_CERTIFICATES: s.caBundlePath });

/** `lego [--eab --kid --hmac] --http --http.port 127.0.0.1:<port> run`; `expectOk: false` returns the failed result. */
export async function legoHttp01Run(
  harness: Harness,
  s: LegoSetup,
  domains: string[],
  opts: { httpPort: number; eab?: LegoEab; expectOk?: boolean },
): Promise<{ result: CommandResult; files: LegoCertificateFiles }> {
  const args = [...globalArgs(s, domains, opts.eab), '--http', '--http.port', `127.0.0.1:${opts.httpPort}`, 'run'];
  const run = opts.expectOk === false ? harness.run.bind(harness) : harness.runOk.bind(harness);
  const result = await run(s.binary ?? 'lego', args, { env: legoEnv(s), timeoutMs: 120_000 });
  return { result, files: legoCertificateFiles(s, domains[0]!) };
}

/** `lego revoke [--reason N] --keep` for the certificate stored under the first domain (account-signed). */
export async function legoRevoke(harness: Harness, s: LegoSetup, domains: string[], opts: { reason?: number; expectOk?: boolean } = {}): Promise<CommandResult> {
  const args = [...globalArgs(s, domains), 'revoke', '--keep', ...(opts.reason !== undefined ? ['--reason', String(opts.reason)] : [])];
  const run = opts.expectOk === false ? harness.run.bind(harness) : harness.runOk.bind(harness);
  return run(s.binary ?? 'lego', args, { env: legoEnv(s), timeoutMs: 60_000 });
}
