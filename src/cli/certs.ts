import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDurationMs } from '../admin/duration.js';
import { adminTokenPath } from '../config/paths.js';
import type { GatewayConfig } from '../config/schema.js';
import { splitListenAddress } from '../platform/listen.js';
import { defaultIo, idsAsPositionals, short, UsageError, withAdmin, type Io } from './admin-context.js';
import { json, table } from './format.js';

// `certs list|show|revoke`. Listing and showing read the database; revoking must reach the Private
// CA, which only the running gateway can (with the embedded simulator, its credentials live only in
// that process), so `certs revoke` asks the running gateway's admin API, with the admin token: the
// same code path as POST /api/certificates/:serial/revoke, on the audit trail as the token's name.

export const CERTS_USAGE = `Usage:
  acme-pca-gateway certs list [--expiring-within 30d] [--not-renewed] [--name NAME] [--account ID] [--limit N] [--json] [--config FILE]
  acme-pca-gateway certs show SERIAL|CERT_ID [--json] [--config FILE]
  acme-pca-gateway certs revoke SERIAL [--reason 0-10] [--config FILE]     (through the running gateway's admin listener)
`;

const CERTS_OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean', default: false },
  'expiring-within': { type: 'string' },
  'not-renewed': { type: 'boolean', default: false },
  name: { type: 'string' },
  account: { type: 'string' },
  limit: { type: 'string' },
  reason: { type: 'string' },
} as const;

export async function certsCommand(args: string[], io: Io = defaultIo()): Promise<number> {
  const [sub, ...rest] = args;
  let parsed;
  try {
    parsed = parseArgs({
      args: idsAsPositionals(rest, CERTS_OPTIONS),
      allowPositionals: true,
      strict: true,
      options: CERTS_OPTIONS,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  return withAdmin(values.config, async ({ readModel, config }) => {
    switch (sub) {
      case 'list': {
        const within = values['expiring-within'];
        const withinMs = within === undefined ? undefined : parseDurationMs(within);
        if (withinMs === null) throw new UsageError(`--expiring-within "${within}" is not a duration like 30d`);
        const limit = values.limit === undefined ? 100 : Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit "${values.limit}" is not a positive whole number`);
        const certs = await readModel.certificates({
          limit,
          ...(withinMs !== undefined ? { expiringWithinMs: withinMs } : {}),
          ...(values.name ? { name: values.name } : {}),
          ...(values.account ? { accountId: values.account } : {}),
          ...(values['not-renewed'] ? { notRenewed: true } : {}),
        });
        if (values.json) json(io.out, certs);
        else
          table(
            io.out,
            ['SERIAL', 'STATUS', 'NOT AFTER', 'DAYS', 'RENEWED', 'NAMES', 'ACCOUNT', 'ORDER'],
            certs.map((c) => [c.serial, c.status, short(c.notAfter), c.daysLeft, c.renewed ? 'yes' : 'no', c.names.join(','), c.account, c.order]),
            '(no certificates)',
          );
        return 0;
      }
      case 'show': {
        const serial = positionals[0];
        if (!serial) throw new UsageError('the serial (or certificate id) is missing');
        const c = await readModel.certificate(serial);
        if (!c) {
          io.err.write(`no certificate ${serial}\n`);
          return 1;
        }
        if (values.json) json(io.out, c);
        else
          io.out.write(
            [
              `serial     ${c.serial}`,
              `status     ${c.status}${c.revokedAt ? ` (revoked ${c.revokedAt}, reason ${c.revocationReason ?? 0})` : ''}`,
              `names      ${c.names.join(', ')}`,
              `valid      ${c.notBefore} → ${c.notAfter} (${c.daysLeft} days left)`,
              `renewed    ${c.renewed ? 'yes' : 'no'}`,
              `account    ${c.account ?? '-'}`,
              `order      ${c.order ?? '-'}`,
              `directory  ${c.directory}`,
              '',
            ].join('\n'),
          );
        return 0;
      }
      case 'revoke': {
        const serial = positionals[0];
        if (!serial) throw new UsageError('the serial to revoke is missing');
        const reason = values.reason === undefined ? 0 : Number(values.reason);
        return revokeThroughGateway(config, serial, reason, io);
      }
      default:
        throw new UsageError(sub ? `unknown certs command "${sub}"` : 'certs needs a command');
    }
  });
}

async function revokeThroughGateway(config: GatewayConfig, serial: string, reason: number, io: Io): Promise<number> {
  const { host, port } = splitListenAddress(config.admin.listen);
  const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const tokenPath = adminTokenPath(config);
  const token = config.admin.token ?? (existsSync(tokenPath) ? readFileSync(tokenPath, 'utf8').trim() : null);
  if (!token) {
    io.err.write(`certs revoke: no admin token (ACME_ADMIN_TOKEN, or ${tokenPath} which the gateway creates at its first start)\n`);
    return 2;
  }
  const url = `http://${target}:${port}/api/certificates/${encodeURIComponent(serial)}/revoke`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ reason }), signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    io.err.write(`certs revoke: the gateway's admin listener at ${target}:${port} does not answer (${(err as Error).message}); revocation needs the running gateway, which holds the PCA connection\n`);
    return 3;
  }
  const body = (await res.json().catch(() => ({}))) as { detail?: string; serial?: string; status?: string };
  if (res.ok) {
    io.out.write(`revoked ${body.serial ?? serial} (reason ${reason})\n`);
    return 0;
  }
  io.err.write(`certs revoke: ${body.detail ?? `HTTP ${res.status}`}\n`);
  return res.status === 404 || res.status === 409 || res.status === 400 ? 1 : 3;
}
