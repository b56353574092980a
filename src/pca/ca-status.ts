import { KEY_TYPES, type KeyType } from '../acme/csr.js';
import { AcmeProblem } from '../acme/problems.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { PcaError } from './errors.js';
import { acmeKeyType, ncpKeyName, type KeyShape } from './key-shape.js';
import { describePcaError } from './problems.js';
import type { PcaCaInfo, PcaClient } from './types.js';

// CA-aware issuance (issue 10): the CA is read (Get CA, ncp-pca-api §3.9) at start and every
// `refreshMs`, so that what it cannot do is known before a client's order fails on it. Not ACTIVE:
// the directory is not ready and issuance waits. Its end: the `period` asked for never outlives it
// (the sign page: "If the validity period of the CA signing the CSR is shorter than the validity
// period of the CSR, it can't sign it"), and a client's notAfter past it is refused. Its key: with
// the key rule "ca" (NAVER's issuer, pkg/pca/pca.go: the key must match the CA certificate) only
// CSRs of the CA's own key type are relayed; keyType/keyBits go out as that issuer sends them.
// Until the CA has been read nothing is assumed: the PCA's own answers decide.

const DAY_MS = 86_400_000;
/** The PCA computes notAfter on its own clock, which may be up to 5 min off ours (§1.2): stay this far inside the CA's end. */
const CA_END_MARGIN_MS = 10 * 60_000;
/** A failed read is tried again this soon, whatever refreshMs says. */
const RETRY_MS = 30_000;

/**
 * The longest `period` (whole days, NCP's 1-3650, ncp-pca-api §3.1) a certificate signed now can
 * have without outliving a CA that ends at `caNotAfter`; below 1 when none can.
 */
export function periodInsideCa(caNotAfter: Date, now: Date): number {
  return Math.min(3650, Math.floor((caNotAfter.getTime() - now.getTime() - CA_END_MARGIN_MS) / DAY_MS));
}

export interface CaWatchOptions {
  pca: PcaClient;
  clock: Clock;
  logger: Logger;
  /**
   * What CSR keys the CA signs: "ca" its own key type only, or the key types listed (pca.keyTypes;
   * the embedded simulator's rule when it is the PCA).
   */
  keyTypes: 'ca' | readonly KeyType[];
  /** How often the CA is read again (pca.caRefreshMs). */
  refreshMs: number;
}

/** What issuance may ask of the CA now. */
export type SignLimits =
  | { kind: 'sign'; maxPeriodDays: number | null; caKey?: KeyShape }
  | { kind: 'wait'; reason: string }
  | { kind: 'fail'; problem: AcmeProblem };

export class CaWatch {
  private info: PcaCaInfo | null = null;
  private readAtMs = 0;
  /** The last read's failure, when it failed in a way that says the CA cannot be used (credentials, caTag). */
  private blocking: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;

  constructor(private readonly o: CaWatchOptions) {}

  /** One read now (never throws: a failed read is logged and tried again), then one every refreshMs. */
  async start(): Promise<void> {
    await this.refresh();
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    const delay = this.info && !this.blocking ? this.o.refreshMs : Math.min(this.o.refreshMs, RETRY_MS);
    this.timer = setTimeout(() => void this.refresh().finally(() => this.timer && this.schedule()), delay);
    this.timer.unref();
  }

  /** Reads the CA again (one read at a time). */
  refresh(): Promise<void> {
    this.reading ??= this.read().finally(() => (this.reading = null));
    return this.reading;
  }

  /** Reads again when the last read is older than `maxAgeMs` (a job about to wait on the CA). */
  async refreshIfOlderThan(maxAgeMs: number): Promise<void> {
    if (this.o.clock.nowMs() - this.readAtMs > maxAgeMs) await this.refresh();
  }

  private async read(): Promise<void> {
    const previous = this.info;
    try {
      const info = await this.o.pca.getCa();
      this.info = info;
      this.blocking = null;
      this.readAtMs = this.o.clock.nowMs();
      if (!previous || previous.status !== info.status || previous.notAfter.getTime() !== info.notAfter.getTime()) {
        const log = info.status === 'ACTIVE' ? this.o.logger.info.bind(this.o.logger) : this.o.logger.warn.bind(this.o.logger);
        log({ ca: { caTag: info.caTag, status: info.status, notAfter: info.notAfter.toISOString(), key: info.key ? ncpKeyName(info.key) : null } }, 'Private CA read');
      }
    } catch (err) {
      this.readAtMs = this.o.clock.nowMs();
      const pca = err instanceof PcaError ? err : null;
      // Credentials or caTag refused: the directory cannot issue at all until the operator acts.
      this.blocking = pca && (pca.reason === 'authentication' || pca.reason === 'unknownCa') ? `Get CA failed (${describePcaError(pca)}); run \`acme-pca-gateway pca check\`` : null;
      this.o.logger.warn({ err: pca ? describePcaError(pca) : (err as Error).message }, 'could not read the Private CA (Get CA); trying again');
    }
  }

  /** The CA as last read; null until a read succeeded. */
  current(): PcaCaInfo | null {
    return this.info;
  }

  /** For /readyz: why the directory cannot issue now, or null. */
  notReady(): string | null {
    if (this.blocking) return this.blocking;
    const ca = this.info;
    if (!ca) return null;
    if (ca.status !== 'ACTIVE') return `the Private CA ${ca.caTag} is ${ca.status}, not ACTIVE`;
    if (ca.notAfter.getTime() <= this.o.clock.nowMs()) return `the Private CA ${ca.caTag} expired at ${ca.notAfter.toISOString()}`;
    return null;
  }

  /** The CSR key types this CA signs; null while unknown (then the PCA's answer decides). */
  acceptedKeyTypes(): KeyType[] | null {
    if (this.o.keyTypes !== 'ca') return [...this.o.keyTypes];
    const key = this.info?.key;
    const type = key ? acmeKeyType(key) : null;
    return type ? [type] : null;
  }

  /** finalize: a CSR key the CA cannot sign is a badCSR listing what it signs, before anything is relayed. */
  checkKeyType(keyType: KeyType): void {
    const accepted = this.acceptedKeyTypes();
    if (!accepted || accepted.includes(keyType)) return;
    const why = this.o.keyTypes === 'ca' && this.info?.key ? `the Private CA's key is ${ncpKeyName(this.info.key)} and it signs keys of its own type only` : 'the Private CA signs only these key types';
    throw new AcmeProblem('badCSR', `key type ${keyType} cannot be issued here: ${why} (accepted: ${accepted.join(', ')})`);
  }

  /** newOrder: a notAfter the CA cannot reach is malformed, naming the CA's end. */
  checkNotAfter(notAfter: Date | null): void {
    const end = this.info?.notAfter;
    if (!notAfter || !end || notAfter.getTime() <= end.getTime() - CA_END_MARGIN_MS) return;
    throw new AcmeProblem('malformed', `notAfter ${notAfter.toISOString()} is past the end of the Private CA's certificate (${end.toISOString()}): a certificate cannot outlive the CA that signs it`);
  }

  /** What a sign call may ask for now: the longest period that stays inside the CA, the CA's key; or wait; or give up. */
  signLimits(now: Date): SignLimits {
    if (this.blocking) return { kind: 'wait', reason: this.blocking };
    const ca = this.info;
    if (!ca) return { kind: 'sign', maxPeriodDays: null };
    if (ca.status !== 'ACTIVE') return { kind: 'wait', reason: `the Private CA is ${ca.status}, not ACTIVE (Get CA); issuance waits until it is` };
    const maxPeriodDays = periodInsideCa(ca.notAfter, now);
    if (maxPeriodDays < 1) {
      return {
        kind: 'fail',
        problem: new AcmeProblem('serverInternal', `the Private CA's certificate ends at ${ca.notAfter.toISOString()}: it cannot sign a certificate valid for a whole day; the operator must renew or replace the CA`),
      };
    }
    return { kind: 'sign', maxPeriodDays, ...(ca.key ? { caKey: ca.key } : {}) };
  }

  /** The longest period (days) the gateway can ask for now; null while the CA is unknown. */
  longestPeriodDays(now: Date): number | null {
    const limits = this.signLimits(now);
    return limits.kind === 'sign' ? limits.maxPeriodDays : limits.kind === 'fail' ? 0 : null;
  }

  /**
   * A profile's description in meta.profiles: when the CA's key rule narrows the keys the profile
   * allows (its keyTypes, or every type the gateway takes), the keys it can really have here.
   */
  describeProfile(description: string, profileKeyTypes: readonly KeyType[] | undefined): string {
    const accepted = this.acceptedKeyTypes();
    const allowed = profileKeyTypes ?? KEY_TYPES;
    const keys = accepted ? allowed.filter((k) => accepted.includes(k)) : allowed;
    if (keys.length === allowed.length) return description;
    const text = keys.length ? `keys: ${keys.join(', ')}` : 'no key type this Private CA signs';
    return description ? `${description} (${text})` : text;
  }
}
