import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { splitCertificatePems } from '../acme/pem.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { CHECK_CAUSES, checkPcaTarget, type CheckReport } from '../pca/check.js';
import { keyRuleOf } from '../pca/connect.js';
import { NcpPcaClient } from '../pca/ncp-client.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { defaultIo, type Io } from './admin-context.js';

// `acme-pca-gateway pca check [--config FILE] [--json]` (issue 10): runs pca/check.ts against every
// directory whose pca.kind is ncp and prints what it found. Exit code: 0 every target ready; else
// the first failing target's cause (pca/check.ts CHECK_CAUSES: 10-19 misconfigured, 20-29 not
// ready); 2 for usage or configuration errors. Signs nothing. Keys are never printed: the access key
// shows as its first four characters, and the output is scrubbed of both keys before it is written.

export const PCA_CHECK_USAGE = `  pca check [--config FILE] [--json]
                               Check the NAVER Cloud PCA target(s) before going live: clock, CA, chain, paging (signs nothing)`;

export async function pcaCheckCommand(args: string[], io: Io = defaultIo(), clock: Clock = systemClock, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'check') {
    io.err.write(`usage:\n${PCA_CHECK_USAGE}\n`);
    return 2;
  }
  let values: { config?: string | undefined; json?: boolean | undefined };
  let config: GatewayConfig;
  try {
    values = parseArgs({ args: rest, strict: true, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } } }).values;
    config = loadConfig(values.config, env);
  } catch (err) {
    io.err.write(`${(err as Error).message}\n${err instanceof ConfigError ? '' : `usage:\n${PCA_CHECK_USAGE}\n`}`);
    return 2;
  }
  const targets = [{ name: 'default', pca: config.pca }, ...Object.entries(config.directories).map(([name, d]) => ({ name, pca: d.pca }))].filter((t) => t.pca.kind === 'ncp');
  if (targets.length === 0) {
    io.err.write('pca check: no directory has pca.kind ncp; the embedded simulator needs no check\n');
    return 2;
  }
  const secrets = targets.flatMap((t) => [t.pca.secretKey, t.pca.accessKey]).filter((s): s is string => !!s && s.length >= 4);
  const reports: CheckReport[] = [];
  for (const { name, pca } of targets) {
    const client = new NcpPcaClient({
      endpoint: pca.endpoint!,
      caTag: pca.caTag!,
      accessKey: pca.accessKey!,
      secretKey: pca.secretKey!,
      timeoutMs: pca.timeoutMs,
      clock,
      ...(pca.caFile ? { ca: readFileSync(pca.caFile, 'utf8') } : {}),
    });
    try {
      const anchors = pca.trustAnchorFile ? splitCertificatePems(readFileSync(pca.trustAnchorFile, 'utf8')) : null;
      reports.push(await checkPcaTarget({ directory: name, endpoint: pca.endpoint!, caTag: pca.caTag!, client, trustAnchorPems: anchors, keyRule: keyRuleOf(pca, 'ca'), periodDays: pca.period }, clock));
    } finally {
      client.close();
    }
  }
  const failed = reports.find((r) => r.failure);
  const exitCode = failed?.failure?.exitCode ?? 0;
  const keyHint = (k: string | undefined) => (k ? `${k.slice(0, 4)}…` : '(none)');
  const text = values.json
    ? `${JSON.stringify({ exitCode, ready: exitCode === 0, targets: reports.map((r) => ({ ...r, accessKey: keyHint(targets.find((t) => t.name === r.directory)?.pca.accessKey) })) }, null, 2)}\n`
    : reports.map((r) => render(r, keyHint(targets.find((t) => t.name === r.directory)?.pca.accessKey))).join('\n') + summary(reports, exitCode);
  io.out.write(scrub(text, secrets));
  return exitCode;
}

function scrub(text: string, secrets: string[]): string {
  return secrets.reduce((t, s) => t.split(s).join('[redacted]'), text);
}

function render(r: CheckReport, accessKey: string): string {
  const lines = [`Directory ${r.directory}: ${r.endpoint}  caTag ${r.caTag}  access key ${accessKey}`];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(12)} ${value}`);
  if (r.clock.skewMs !== null) row('clock', `PCA gateway Date ${r.clock.pcaDate}; skew ${(r.clock.skewMs / 1000).toFixed(1)} s (limit ±300 s)`);
  if (r.ca) {
    row('CA', `${r.ca.status}${r.ca.caType ? ` ${r.ca.caType}` : ''}, subject ${JSON.stringify(r.ca.subject)}, key ${r.ca.key ?? 'unknown'}`);
    row('CA end', `${r.ca.notAfter} (${r.ca.daysLeft} days left)`);
    if (r.ca.crlUrls.length) row('CRL', r.ca.crlUrls.join(', '));
  }
  if (r.chain) row('chain', `${r.chain.length} certificate(s); ${r.chain.verifies ? 'verifies' : 'does NOT verify'} to ${r.chain.anchor}`);
  if (r.paging) row('list paging', `${r.paging.proven ? 'as expected' : 'NOT as expected'}: ${r.paging.detail}`);
  if (r.longestPeriodDays !== null) row('period', `the longest period the gateway can ask for: ${r.longestPeriodDays} days`);
  if (r.keyTypes) row('key types', `CSR keys this CA signs: ${r.keyTypes.join(', ')}`);
  for (const w of r.warnings) row('warning', w);
  if (r.failure) {
    lines.push(`  FAILED (${r.failure.family}, exit ${r.failure.exitCode}): ${r.failure.message}`);
    lines.push(`  fix: ${r.failure.fix}`);
  } else lines.push('  ready');
  return `${lines.join('\n')}\n`;
}

function summary(reports: CheckReport[], exitCode: number): string {
  if (exitCode === 0) return `\npca check: ready (${reports.length} target${reports.length === 1 ? '' : 's'})\n`;
  const cause = Object.entries(CHECK_CAUSES).find(([, c]) => c.exitCode === exitCode);
  return `\npca check: ${cause?.[1].family ?? 'failed'} (${cause?.[0] ?? exitCode}), exit ${exitCode}\n`;
}
