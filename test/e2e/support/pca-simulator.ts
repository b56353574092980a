import path from 'node:path';
import { ensureGatewayBuilt, gatewayEntry, repoRoot } from './build.js';
import type { Harness } from './harness.js';
import { httpRequest, sleep } from './http.js';
import type { ManagedProcess } from './process.js';

// The PCA simulator run on its own (`acme-pca-gateway pca-simulator`), as one NCP endpoint that
// several gateway processes share with `pca.kind: ncp` (an embedded simulator would give each
// gateway its own CA). Its loopback admin API lists every certificate it signed.

export interface SimulatorIssued {
  serialNo: string;
  issuedAt: string;
  spkiSha256: string;
  names: string[];
  revoked: boolean;
}

export interface StandaloneSimulator {
  url: string;
  dataDir: string;
  rootPemPath: string;
  caTag: string;
  accessKey: string;
  secretKey: string;
  process: ManagedProcess;
  issued(): Promise<SimulatorIssued[]>;
}

export async function startStandaloneSimulator(
  harness: Harness,
  o: { accessKey?: string; secretKey?: string; caTag?: string } = {},
): Promise<StandaloneSimulator> {
  await ensureGatewayBuilt();
  const accessKey = o.accessKey ?? 'e2e-access-key';
  const secretKey = o.secretKey ?? 'e2e-secret-key';
  const caTag = o.caTag ?? '5e1f0a2b-3c4d5e6f';
  const dataDir = harness.tempDir('pca-sim');
  const port = await harness.freePort();
  const proc = harness.spawn('pca-simulator', process.execPath, [
    gatewayEntry(), 'pca-simulator', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir,
    '--access-key', accessKey, '--secret-key', secretKey, '--ca-tag', caTag,
  ], { cwd: repoRoot });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (!proc.isRunning()) throw new Error(`pca-simulator exited:\n${proc.output()}`);
    try {
      // Unauthenticated: the NCP gateway's 401 shape proves it is up.
      if ((await httpRequest(`${url}/api/v1/ca`, { timeoutMs: 1_000 })).status === 401) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`pca-simulator did not answer:\n${proc.output()}`);
    await sleep(100);
  }
  return {
    url,
    dataDir,
    rootPemPath: path.join(dataDir, 'root.pem'),
    caTag,
    accessKey,
    secretKey,
    process: proc,
    issued: async () => {
      const res = await httpRequest(`${url}/_simulator/issued`, { timeoutMs: 10_000, freshConnection: true });
      if (res.status !== 200) throw new Error(`GET /_simulator/issued → ${res.status}`);
      return JSON.parse(res.body) as SimulatorIssued[];
    },
  };
}
