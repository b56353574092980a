import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import { serve } from './serve.js';
import { PCA_SIMULATOR_USAGE, pcaSimulatorCommand } from './pca-simulator.js';
import { eabCommand } from './eab.js';
import { dbCommand } from './db.js';

const USAGE = `Usage: acme-pca-gateway <command> [options]

Commands:
  serve [--config FILE]        Run the ACME server (default: embedded SQLite + PCA simulator)
${PCA_SIMULATOR_USAGE}
  eab create --label L [--expires 30d] [--directory NAME] [policy flags] | eab list | eab revoke KEY_ID   [--config FILE]
                               External Account Binding keys (RFC 8555 §7.3.4)
  db copy --from sqlite:FILE --to postgres:URL [--force] [--password-file FILE]
                               Move a deployment from SQLite to PostgreSQL (one transaction; counts per table)
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
      try {
        return await dbCommand(rest);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`${err.message}\n`);
          return 2;
        }
        throw err;
      }
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
