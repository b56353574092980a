import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../../platform/clock.js';
import { cryptoRandom, type Random } from '../../platform/random.js';
import type { Logger } from '../../platform/logger.js';
import { ensureX509Crypto } from '../x509-setup.js';
import { SimulatorApi } from './api.js';
import { loadOrCreateCa } from './ca.js';
import { createFaultController, type FaultConfig, type FaultController } from './faults.js';
import { SimulatorServer } from './server.js';
import { IssuedStore } from './store.js';

export type { FaultConfig, FaultController, FaultEndpoint } from './faults.js';
export { parseFaultConfig } from './faults.js';

export interface SimulatorOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  dataDir: string;
  accessKey: string;
  secretKey: string;
  /** Default: a random 8hex-8hex tag persisted in dataDir (ncp-pca-api §3 caTag format). */
  caTag?: string;
  /** 2 (default): root + intermediate; 1: leaves signed by the root. */
  tiers?: 1 | 2;
  /** Validity when the sign request has no period; default 90 days. */
  defaultPeriodDays?: number;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  faults?: FaultConfig;
}

export interface RunningSimulator {
  /** http://host:port, without /api/v1. */
  url: string;
  caTag: string;
  rootPemPath: string;
  rootPem: string;
  faults: FaultController;
  close(): Promise<void>;
}

/**
 * Starts the NCP-compatible Private CA simulator: the gateway's embedded default CA, so it can be tried
 * without a cloud account, and the PCA that tests run against. State (CA keys, issued certificates,
 * revocations) lives in dataDir and survives restarts.
 */
export async function startPcaSimulator(opts: SimulatorOptions): Promise<RunningSimulator> {
  ensureX509Crypto();
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? cryptoRandom;
  const tiers = opts.tiers ?? 2;
  const defaultPeriodDays = opts.defaultPeriodDays ?? 90;
  if (!Number.isInteger(defaultPeriodDays) || defaultPeriodDays < 1 || defaultPeriodDays > 3650) {
    throw new Error('defaultPeriodDays must be 1..3650');
  }
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const caTag = opts.caTag ?? (await loadOrCreateCaTag(opts.dataDir, random));
  const ca = await loadOrCreateCa(opts.dataDir, tiers, clock, random);
  const store = new IssuedStore(opts.dataDir);
  const faults = createFaultController(opts.faults ?? {});

  // The API writes the simulator's own URL (CRL distribution point) into leaves; the port is known only
  // after listen, and no request can arrive before listen, so the API reads it through a function.
  let url = '';
  const api = new SimulatorApi({
    ca,
    store,
    caTag,
    baseUrl: () => url,
    tiers,
    defaultPeriodDays,
    clock,
    random,
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  const server = new SimulatorServer({
    api,
    caTag,
    faults,
    accessKey: opts.accessKey,
    secretKey: opts.secretKey,
    clock,
    random,
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.server.listen(opts.port, opts.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.server.address() as AddressInfo;
  url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  opts.logger?.info({ url, caTag, tiers, rootPemPath: ca.rootPemPath }, 'PCA simulator listening');

  return {
    url,
    caTag,
    rootPemPath: ca.rootPemPath,
    rootPem: ca.root.pem,
    faults,
    close: () => server.close(),
  };
}

async function loadOrCreateCaTag(dataDir: string, random: Random): Promise<string> {
  const path = join(dataDir, 'ca-tag');
  try {
    const tag = (await readFile(path, 'utf8')).trim();
    if (/^[0-9a-f]{8}-[0-9a-f]{8}$/.test(tag)) return tag;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const hex = random.bytes(8).toString('hex');
  const tag = `${hex.slice(0, 8)}-${hex.slice(8)}`;
  await writeFile(path, `${tag}\n`, { mode: 0o600 });
  return tag;
}
