import { parseArgs } from 'node:util';
import { startPcaSimulator } from '../pca/simulator/index.js';
import { splitListenAddress } from '../platform/listen.js';
import { createLogger } from '../platform/logger.js';

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
    },
  });
  const accessKey = values['access-key'] ?? process.env.NCP_ACCESS_KEY;
  const secretKey = values['secret-key'] ?? process.env.NCP_SECRET_KEY;
  if (!accessKey || !secretKey) {
    process.stderr.write('pca-simulator needs --access-key and --secret-key (or NCP_ACCESS_KEY / NCP_SECRET_KEY)\n');
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
    ...(values['ca-tag'] ? { caTag: values['ca-tag'] } : {}),
    ...(values['extra-ca-tag'] ? { extraCaTags: values['extra-ca-tag'] } : {}),
  });
  process.stdout.write(
    [
      `PCA simulator listening on ${sim.url}`,
      `  API base:  ${sim.url}/api/v1`,
      ...sim.cas.map((ca) => `  caTag ${ca.caTag}: root ${ca.rootPemPath}`),
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
