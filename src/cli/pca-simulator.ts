import { parseArgs } from 'node:util';
import { ZodError } from 'zod';
import { behaviourSchema, startPcaSimulator, type BehaviourOverrides } from '../pca/simulator/index.js';
import { splitListenAddress } from '../platform/listen.js';
import { createLogger } from '../platform/logger.js';

/** The behaviour flags (pca/simulator/behaviour.ts): strict by default, each undocumented point switchable. */
const BEHAVIOUR_FLAGS = {
  'key-rule': { key: 'keyRule', parse: (v: string) => v },
  'list-paging': { key: 'listPaging', parse: (v: string) => v },
  'list-order': { key: 'listOrder', parse: (v: string) => v },
  'ca-chain': { key: 'caChain', parse: (v: string) => v },
  'ca-status': { key: 'caStatus', parse: (v: string) => v },
  'ca-expires-in-days': { key: 'caExpiresInDays', parse: Number },
  'rate-limit': { key: 'rateLimitPerSecond', parse: Number },
  'clock-offset-ms': { key: 'clockOffsetMs', parse: Number },
  'crl-cycle-ms': { key: 'crlCycleMs', parse: Number },
} as const;

export const PCA_SIMULATOR_USAGE = `  pca-simulator --listen HOST:PORT --data-dir DIR --access-key K --secret-key S [--ca-tag TAG] [--extra-ca-tag TAG]... [--tiers 1|2]
               [--key-rule ca|any] [--list-paging honoured|ignored] [--list-order oldest-first|newest-first]
               [--ca-chain array|string] [--ca-status S] [--ca-expires-in-days N] [--rate-limit N]
               [--clock-offset-ms N] [--crl-cycle-ms N]
                               Run the NCP-compatible Private CA simulator on its own (strict by default)`;

/** `acme-pca-gateway pca-simulator`: the NCP-compatible Private CA on its own, until SIGTERM/SIGINT. */
export async function pcaSimulatorCommand(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      listen: { type: 'string', default: '127.0.0.1:14001' },
      'data-dir': { type: 'string', default: './data/pca-simulator' },
      'access-key': { type: 'string' },
      'secret-key': { type: 'string' },
      'ca-tag': { type: 'string' },
      /** Another CA on the same port (repeatable), kept in <data-dir>/<tag>/. */
      'extra-ca-tag': { type: 'string', multiple: true },
      tiers: { type: 'string', default: '2' },
      ...Object.fromEntries(Object.keys(BEHAVIOUR_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
    },
  });
  const accessKey = values['access-key'] ?? process.env.NCP_ACCESS_KEY;
  const secretKey = values['secret-key'] ?? process.env.NCP_SECRET_KEY;
  if (!accessKey || !secretKey) {
    process.stderr.write('pca-simulator needs --access-key and --secret-key (or NCP_ACCESS_KEY / NCP_SECRET_KEY)\n');
    return 2;
  }
  let behaviour: BehaviourOverrides;
  try {
    const raw: Record<string, unknown> = {};
    for (const [flag, { key, parse }] of Object.entries(BEHAVIOUR_FLAGS)) {
      const v = (values as Record<string, unknown>)[flag];
      if (typeof v === 'string') raw[key] = parse(v);
    }
    behaviour = behaviourSchema.parse(raw);
  } catch (err) {
    const detail = err instanceof ZodError ? err.issues.map((i) => `--${flagOf(String(i.path[0]))}: ${i.message}`).join('; ') : String(err);
    process.stderr.write(`pca-simulator: ${detail}\n`);
    return 2;
  }
  const tiers = values.tiers === '1' ? 1 : 2;
  const { host, port } = splitListenAddress(values.listen!);
  const logger = createLogger({ secrets: [secretKey] });
  const sim = await startPcaSimulator({
    host,
    port,
    dataDir: values['data-dir']!,
    accessKey,
    secretKey,
    tiers,
    logger,
    behaviour,
    ...(values['ca-tag'] ? { caTag: values['ca-tag'] } : {}),
    ...(values['extra-ca-tag'] ? { extraCaTags: values['extra-ca-tag'] } : {}),
  });
  const b = sim.behaviour();
  process.stdout.write(
    [
      `PCA simulator listening on ${sim.url}`,
      `  API base:  ${sim.url}/api/v1`,
      ...sim.cas.map((ca) => `  caTag ${ca.caTag}: root ${ca.rootPemPath}`),
      `  behaviour: key rule ${b.keyRule}, list paging ${b.listPaging}, ${b.listOrder}, caChain ${b.caChain}, CA ${b.caStatus}` +
        `${b.caExpiresInDays !== null ? `, CA ends in ${b.caExpiresInDays} days` : ''}${b.rateLimitPerSecond !== null ? `, ${b.rateLimitPerSecond} calls/s` : ''}` +
        `${b.clockOffsetMs ? `, clock ${b.clockOffsetMs} ms off` : ''}${b.crlCycleMs ? `, CRL every ${b.crlCycleMs} ms` : ''}`,
      `  faults:    GET/PUT ${sim.url}/_simulator/faults (loopback only)`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await sim.close();
  return 0;
}

const flagOf = (key: string): string => Object.entries(BEHAVIOUR_FLAGS).find(([, v]) => v.key === key)?.[0] ?? key;
