import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../../platform/clock.js';
import { cryptoRandom, type Random } from '../../platform/random.js';
import type { Logger } from '../../platform/logger.js';
import { ensureX509Crypto } from '../x509-setup.js';
import { SimulatorApi } from './api.js';
import { loadOrCreateCa } from './ca.js';
import { effectiveBehaviour, type BehaviourOverrides, type SimulatorBehaviour } from './behaviour.js';
import { createFaultController, type FaultConfig, type FaultController } from './faults.js';
import { SimulatorServer } from './server.js';
import { IssuedStore } from './store.js';

export type { FaultConfig, FaultController, FaultEndpoint } from './faults.js';
export { parseFaultConfig } from './faults.js';
export type { BehaviourOverrides, SimulatorBehaviour } from './behaviour.js';
export { behaviourSchema } from './behaviour.js';

export interface SimulatorOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  dataDir: string;
  accessKey: string;
  secretKey: string;
  /** The default CA's tag. Default: a random 8hex-8hex tag persisted in dataDir (ncp-pca-api §3 caTag format). */
  caTag?: string;
  /**
   * More CAs served on the same port, one per tag, each with its own key and data in
   * <dataDir>/<tag>/ (root at <dataDir>/<tag>/root.pem). A tag equal to the default CA's is that CA.
   */
  extraCaTags?: readonly string[];
  /** 2 (default): root + intermediate; 1: leaves signed by the root. */
  tiers?: 1 | 2;
  /** Validity when the sign request has no period; default 90 days. */
  defaultPeriodDays?: number;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  faults?: FaultConfig;
  /** Behaviours where the documentation leaves the PCA open (behaviour.ts); default strict (keyRule 'ca'). */
  behaviour?: BehaviourOverrides;
}

/** One CA the simulator serves. */
export interface SimulatedCa {
  caTag: string;
  rootPemPath: string;
  rootPem: string;
}

export interface RunningSimulator {
  /** http://host:port, without /api/v1. */
  url: string;
  /** The default CA (the one at the top of dataDir). */
  caTag: string;
  rootPemPath: string;
  rootPem: string;
  /** Every CA served, the default one first. */
  cas: SimulatedCa[];
  /** The CA with this tag, if served. */
  ca(caTag: string): SimulatedCa | undefined;
  /** One fault configuration for every CA on this port. */
  faults: FaultController;
  /** The behaviours in force now (configured, then what the fault endpoint switched). */
  behaviour(): SimulatorBehaviour;
  close(): Promise<void>;
}

/** Names an extra CA's tag may not have: the default CA's own files in dataDir. */
const RESERVED_TAGS = new Set(['ca', 'ca-tag', 'root.pem', 'issued.jsonl']);
const EXTRA_TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Why a tag cannot name a CA beside the default one (it becomes a folder of dataDir), or null. */
export function extraCaTagProblem(tag: string): string | null {
  if (!EXTRA_TAG.test(tag)) return `caTag "${tag}" must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`;
  if (RESERVED_TAGS.has(tag.toLowerCase())) return `caTag "${tag}" is the name of a file of the simulator's data directory`;
  return null;
}

/**
 * Starts the NCP-compatible Private CA simulator: the gateway's embedded default CA, so it can be tried
 * without a cloud account, and the PCA that tests run against. State (CA keys, issued certificates,
 * revocations) lives in dataDir and survives restarts. Several CAs (one per caTag) share the port,
 * as several CAs share one NCP endpoint; each has its own key, journal and CRL.
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
  for (const tag of opts.extraCaTags ?? []) {
    const problem = extraCaTagProblem(tag);
    if (problem) throw new Error(problem);
  }
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const defaultTag = opts.caTag ?? (await loadOrCreateCaTag(opts.dataDir, random));
  const tags = [defaultTag, ...new Set((opts.extraCaTags ?? []).filter((t) => t !== defaultTag))];

  const faults = createFaultController(opts.faults ?? {});
  const behaviour = (): SimulatorBehaviour => effectiveBehaviour(opts.behaviour, faults.behaviour());
  // The PCA's own clock: behaviour clockOffsetMs moves it away from ours (issue 10: `pca check` skew).
  const pcaClock: Clock = { nowMs: () => clock.nowMs() + behaviour().clockOffsetMs, now: () => new Date(pcaClock.nowMs()) };

  // The API writes the simulator's own URL (CRL distribution point) into leaves; the port is known only
  // after listen, and no request can arrive before listen, so the API reads it through a function.
  let url = '';
  const apis = new Map<string, SimulatorApi>();
  const cas: SimulatedCa[] = [];
  for (const [i, caTag] of tags.entries()) {
    const dataDir = i === 0 ? opts.dataDir : join(opts.dataDir, caTag);
    if (i > 0) await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const ca = await loadOrCreateCa(dataDir, tiers, clock, random, i === 0 ? undefined : caTag);
    apis.set(
      caTag,
      new SimulatorApi({
        ca,
        store: new IssuedStore(dataDir),
        caTag,
        caId: i + 1,
        baseUrl: () => url,
        tiers,
        defaultPeriodDays,
        clock: pcaClock,
        random,
        behaviour,
        ...(opts.logger ? { logger: opts.logger.child({ caTag }) } : {}),
      }),
    );
    cas.push({ caTag, rootPemPath: ca.rootPemPath, rootPem: ca.root.pem });
  }
  const server = new SimulatorServer({
    apis,
    faults,
    accessKey: opts.accessKey,
    secretKey: opts.secretKey,
    clock,
    pcaClock,
    behaviour,
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
  opts.logger?.info({ url, cas: cas.map((c) => ({ caTag: c.caTag, rootPemPath: c.rootPemPath })), tiers }, 'PCA simulator listening');

  const main = cas[0]!;
  return {
    url,
    caTag: main.caTag,
    rootPemPath: main.rootPemPath,
    rootPem: main.rootPem,
    cas,
    ca: (caTag) => cas.find((c) => c.caTag === caTag),
    faults,
    behaviour,
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
