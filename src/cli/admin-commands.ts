import { parseArgs } from 'node:util';
import { parseSince } from '../admin/duration.js';
import type { Account, OrderStatus } from '../acme/types.js';
import { OperatorActionError } from '../services/operator-actions.js';
import { cliOperator, defaultIo, idsAsPositionals, short, UsageError, withAdmin, type Io } from './admin-context.js';
import { json, table } from './format.js';

// `accounts list|show|deactivate`, `orders list|show`, `audit list|export`: the admin read model
// (admin/read-model.ts) over the configured database, the same views the admin API and console show.

export const ADMIN_USAGE = `Usage:
  acme-pca-gateway accounts list [--status valid|deactivated] [--limit N] [--json] [--config FILE]
  acme-pca-gateway accounts show ACCOUNT_ID [--json] [--config FILE]
  acme-pca-gateway accounts deactivate ACCOUNT_ID [--config FILE]
  acme-pca-gateway orders list [--status S] [--account ID] [--name NAME] [--since 7d] [--limit N] [--json] [--config FILE]
  acme-pca-gateway orders show ORDER_ID [--json] [--config FILE]
  acme-pca-gateway audit list [--since 7d|DATE] [--action A] [--limit N] [--json] [--config FILE]
  acme-pca-gateway audit export [--since 7d|DATE] [--config FILE]      (JSON lines on stdout)
`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean', default: false },
  status: { type: 'string' },
  account: { type: 'string' },
  name: { type: 'string' },
  since: { type: 'string' },
  action: { type: 'string' },
  limit: { type: 'string' },
} as const;

function parse(args: string[]) {
  try {
    return parseArgs({ args: idsAsPositionals(args, OPTIONS), allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function limitOf(text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--limit "${text}" is not a positive whole number`);
  return n;
}

function sinceOf(text: string | undefined, nowMs: number): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseSince(text, nowMs);
  if (ms === null) throw new UsageError(`--since "${text}" is neither a duration (7d, 12h) nor a date (2026-01-31)`);
  return ms;
}

function need(id: string | undefined, what: string): string {
  if (!id) throw new UsageError(`${what} is missing`);
  return id;
}

export async function accountsCommand(args: string[], io: Io = defaultIo()): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest);
  return withAdmin(values.config, async ({ readModel, actions }) => {
    switch (sub) {
      case 'list': {
        const accounts = await readModel.accounts({ limit: limitOf(values.limit, 100), ...(values.status ? { status: values.status as Account['status'] } : {}) });
        if (values.json) json(io.out, accounts);
        else table(io.out, ['ACCOUNT', 'STATUS', 'DIRECTORY', 'CREATED', 'ORDERS', 'CERTS', 'EAB KEY', 'CONTACT'], accounts.map((a) => [a.id, a.status, a.directory, short(a.createdAt), a.orders, a.certificates, a.eabKeyId, a.contact.join(' ')]), '(no accounts)');
        return 0;
      }
      case 'show': {
        const id = need(positionals[0], 'the account id');
        const a = await readModel.account(id);
        if (!a) {
          io.err.write(`no account ${id}\n`);
          return 1;
        }
        if (values.json) json(io.out, a);
        else {
          io.out.write(`account   ${a.id}\nstatus    ${a.status}\ndirectory ${a.directory}\ncreated   ${a.createdAt}\ncontact   ${a.contact.join(', ') || '-'}\neab key   ${a.eabKeyId ?? '-'}\norders    ${a.orders ?? 0}, certificates ${a.certificates ?? 0}\n\nrecent orders:\n`);
          table(io.out, ['ORDER', 'STATUS', 'CREATED', 'NAMES'], a.recentOrders.map((o) => [o.id, o.status, short(o.createdAt), o.names.join(',')]), '(no orders)');
        }
        return 0;
      }
      case 'deactivate': {
        const id = need(positionals[0], 'the account id');
        try {
          await actions.deactivateAccount(id, cliOperator());
        } catch (err) {
          if (err instanceof OperatorActionError) {
            io.err.write(`accounts deactivate: ${err.message}\n`);
            return 1;
          }
          throw err;
        }
        io.out.write(`deactivated ${id}: every request it signs now gets 401 unauthorized\n`);
        return 0;
      }
      default:
        throw new UsageError(sub ? `unknown accounts command "${sub}"` : 'accounts needs a command');
    }
  });
}

export async function ordersCommand(args: string[], io: Io = defaultIo()): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest);
  return withAdmin(values.config, async ({ readModel, clock }) => {
    switch (sub) {
      case 'list': {
        const since = sinceOf(values.since, clock.nowMs());
        const orders = await readModel.orders({
          limit: limitOf(values.limit, 50),
          ...(values.status ? { status: values.status as OrderStatus } : {}),
          ...(values.account ? { accountId: values.account } : {}),
          ...(values.name ? { name: values.name } : {}),
          ...(since !== undefined ? { sinceMs: since } : {}),
        });
        if (values.json) json(io.out, orders);
        else table(io.out, ['ORDER', 'STATUS', 'CREATED', 'ACCOUNT', 'NAMES', 'CERTIFICATE', 'PROBLEM'], orders.map((o) => [o.id, o.status, short(o.createdAt), o.account, o.names.join(','), o.certificate, o.problem?.detail]), '(no orders)');
        return 0;
      }
      case 'show': {
        const id = need(positionals[0], 'the order id');
        const o = await readModel.order(id);
        if (!o) {
          io.err.write(`no order ${id}\n`);
          return 1;
        }
        if (values.json) {
          json(io.out, o);
          return 0;
        }
        io.out.write(`order     ${o.id}\nstatus    ${o.status}\naccount   ${o.account}\nnames     ${o.names.join(', ')}\ncreated   ${o.createdAt}\ncert      ${o.certificate ?? '-'}\n`);
        if (o.explanation) io.out.write(`why       ${o.explanation}\n`);
        io.out.write('\ntimeline:\n');
        for (const e of o.timeline) {
          io.out.write(`  ${e.at.replace('T', ' ').slice(0, 23)}  ${e.summary}\n`);
          if (e.explanation && e.event !== 'order.failed') io.out.write(`  ${' '.repeat(23)}  → ${e.explanation}\n`);
        }
        return 0;
      }
      default:
        throw new UsageError(sub ? `unknown orders command "${sub}"` : 'orders needs a command');
    }
  });
}

export async function auditCommand(args: string[], io: Io = defaultIo()): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parse(rest);
  if (sub !== 'list' && sub !== 'export') throw new UsageError(sub ? `unknown audit command "${sub}"` : 'audit needs a command');
  return withAdmin(values.config, async ({ readModel, clock }) => {
    const since = sinceOf(values.since, clock.nowMs());
    const filter = { ...(since !== undefined ? { sinceMs: since } : {}), ...(values.action ? { action: values.action } : {}) };
    if (sub === 'export') {
      // Paged by (time, id) so an export of a long trail never holds it all in memory.
      let after: { atMs: number; id: string } | undefined;
      for (;;) {
        const page = await readModel.audit({ ...filter, limit: 1000, ...(after ? { after } : {}) });
        for (const e of page) io.out.write(`${JSON.stringify(e)}\n`);
        if (page.length < 1000) return 0;
        const last = page[page.length - 1]!;
        after = { atMs: last.at.getTime(), id: last.id };
      }
    }
    const events = await readModel.audit({ ...filter, limit: limitOf(values.limit, 200) });
    if (values.json) json(io.out, events);
    else
      table(
        io.out,
        ['TIME', 'ACTION', 'WHO', 'IP', 'ACCOUNT', 'ORDER', 'SERIAL'],
        events.map((e) => [e.at.toISOString().replace('T', ' ').slice(0, 19), e.action, `${e.actor}${e.actorName ? `:${e.actorName}` : ''}${e.eabKeyId ? ` (eab ${e.eabKeyId})` : ''}`, e.clientIp, e.accountId, e.orderId, e.serialHex]),
        '(no audit events)',
      );
    return 0;
  });
}
