import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import { serve } from './serve.js';
import { pcaSimulatorCommand } from './pca-simulator.js';
import { eabCommand } from './eab.js';
import { dbCommand } from './db.js';
import { accountsCommand, ADMIN_USAGE, auditCommand, ordersCommand } from './admin-commands.js';
import { certsCommand, CERTS_USAGE } from './certs.js';
import { UsageError } from './admin-context.js';

const USAGE = `Usage: acme-pca-gateway <command> [options]

Commands:
  serve [--config FILE]        Run the ACME server (default: embedded SQLite + PCA simulator)
  pca-simulator --listen HOST:PORT --data-dir DIR --access-key K --secret-key S [--ca-tag TAG] [--extra-ca-tag TAG]... [--tiers 1|2]
                               Run the NCP-compatible Private CA simulator on its own
  eab create --label L [--expires 30d] [--directory NAME] [policy flags] | eab list | eab revoke KEY_ID   [--config FILE]
                               External Account Binding keys (RFC 8555 §7.3.4)
  db copy --from sqlite:FILE --to postgres:URL [--force] [--password-file FILE]
                               Move a deployment from SQLite to PostgreSQL (one transaction; counts per table)
  db backup FILE | db prune [--older-than 7d] [--batch N]
                               Online backup of the live SQLite database; prune nonces and finished jobs
  accounts list|show|deactivate, orders list|show, certs list|show|revoke, audit list|export
                               Operations on the configured database (--json for scripts; see "<command> help")
  help                         Show this text
`;

/** Runs a command; resolves to an exit code, or undefined for long-running commands. */
export async function runCli(argv: string[]): Promise<number | undefined> {
  const [command = 'help', ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' } }, strict: true });
      try {
        await serve(loadConfig(values.config));
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`${err.message}\n`);
          return 2;
        }
        throw err;
      }
      return undefined;
    }
    case 'eab':
      try {
        return await eabCommand(rest);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`${err.message}\n`);
          return 2;
        }
        throw err;
      }
    case 'db':
      return adminCommand(() => dbCommand(rest), '');
    case 'accounts':
      return adminCommand(() => accountsCommand(rest), ADMIN_USAGE, rest);
    case 'orders':
      return adminCommand(() => ordersCommand(rest), ADMIN_USAGE, rest);
    case 'audit':
      return adminCommand(() => auditCommand(rest), ADMIN_USAGE, rest);
    case 'certs':
      return adminCommand(() => certsCommand(rest), CERTS_USAGE, rest);
    case 'pca-simulator':
      return pcaSimulatorCommand(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

/**
 * Runs an admin command with its exit codes (cli/admin-context.ts): a usage or configuration error
 * is 2 with the message; a failure to reach the database or another unexpected error is 3.
 */
async function adminCommand(run: () => Promise<number>, usage: string, args: string[] = []): Promise<number> {
  if (usage && (args[0] === 'help' || args.includes('--help') || args.includes('-h'))) {
    process.stdout.write(usage);
    return 0;
  }
  try {
    return await run();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n${usage}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    process.stderr.write(`acme-pca-gateway: ${(err as Error).message}\n`);
    return 3;
  }
}
