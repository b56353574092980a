import { webcrypto, X509Certificate } from 'node:crypto';
import { toPem } from '../acme/pem.js';
import type { PcaClient } from './types.js';
import { makeCsr } from './make-csr.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { decodeRecord, encodeRecord, loadCacheFiles, saveCacheFiles, type Sealer, type ServingCredentials } from './serving-record.js';

export type { ServingCredentials } from './serving-record.js';

// tls.mode "pca": the ACME listener's own certificate comes from the Private CA it fronts, so a client
// that trusts the PCA root (as it must to use the certificates) also trusts the directory.
//
// Replicas behind a load balancer serve one certificate for the one external host, so it is kept
// where they all read it (the database, through the SharedServingCertificate port) and obtained or
// renewed by one replica at a time, under a lock: the others wait for what it stores instead of each
// asking the PCA (no stampede when they start or reach the renewal time together). Every replica
// re-reads the shared record now and then and swaps in a newer certificate without a restart. The
// replica's own file copy serves when the database cannot be read at start, and a valid certificate
// keeps serving while the PCA is down.

/** Where the replicas share the certificate; deps.ts builds it over the Store (settings + tryExclusive). */
export interface SharedServingCertificate {
  /** The stored record, or null. */
  read(): Promise<string | null>;
  /** Stores next while the record is still expected (null: absent); false when it changed meanwhile. */
  write(expected: string | null, next: string): Promise<boolean>;
  /** Runs fn unless another replica is inside it now; never waits. */
  exclusive<T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
}

/** One process on its own (no shared store): the file copy is all there is. */
const ALONE: SharedServingCertificate = {
  read: async () => null,
  write: async () => true,
  exclusive: async (fn) => ({ ran: true, value: await fn() }),
};

export interface ServingCertificateOptions {
  pca: PcaClient;
  host: string;
  periodDays: number;
  cacheDir: string;
  renewAtFraction: number;
  clock: Clock;
  logger: Logger;
  shared?: { store: SharedServingCertificate; sealer: Sealer };
  /** How often a replica re-reads the shared record for a certificate another one renewed (default 60 s). */
  refreshMs?: number;
  /** How long a replica waits for the one obtaining the certificate before it gives up (default 45 s). */
  waitMs?: number;
  /** How often it looks while it waits (default 250 ms). */
  waitPollMs?: number;
}

const RETRY_AFTER_FAILURE_MS = 5 * 60_000;

export class ServingCertificateManager {
  private timer: NodeJS.Timeout | null = null;
  private current: ServingCredentials | null = null;
  private onRenew: ((creds: ServingCredentials) => void) | null = null;
  private readonly shared: SharedServingCertificate;

  constructor(private readonly o: ServingCertificateOptions) {
    this.shared = o.shared?.store ?? ALONE;
  }

  /**
   * A certificate to serve: the shared one while fresh, else one obtained (by this replica or the
   * one holding the lock); when that fails, any still-valid one (shared or the file copy).
   */
  async init(): Promise<ServingCredentials> {
    const file = loadCacheFiles(this.o.cacheDir, this.o.host);
    let lastSeen: ServingCredentials | null = null;
    try {
      this.current = await this.acquire(file, (seen) => (lastSeen = seen));
    } catch (err) {
      const fallback = [lastSeen as ServingCredentials | null, file]
        .filter((c): c is ServingCredentials => c !== null && c.notAfter.getTime() > this.o.clock.nowMs())
        .sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime())[0];
      if (!fallback) throw err;
      this.o.logger.warn({ err: (err as Error).message, notAfter: fallback.notAfter.toISOString() }, 'could not renew the serving certificate; using a cached one still valid');
      this.current = fallback;
    }
    if (this.current.certPem !== file?.certPem) this.saveCopy(this.current);
    return this.current;
  }

  /** Keeps the certificate current in the background; onRenew swaps the server's secure context. */
  scheduleRenewal(onRenew: (creds: ServingCredentials) => void): void {
    if (!this.current) return;
    this.onRenew = onRenew;
    this.arm(this.nextDelay());
  }

  /**
   * One round of upkeep: renews when due (one replica signs, the others take what it stored), else
   * takes a newer certificate another replica stored. Returns the new credentials, null when unchanged.
   */
  async refresh(): Promise<ServingCredentials | null> {
    const current = this.current;
    if (!current) return null;
    let next: ServingCredentials | null;
    if (this.dueForRenewal(current)) {
      next = await this.acquire(null);
    } else {
      // A database that does not answer now only delays the pick-up to the next round.
      const stored = await this.readShared().catch((err: Error) => {
        this.o.logger.warn({ err: err.message }, 'could not read the shared serving certificate; looking again later');
        return null;
      });
      // The stored one is what every replica serves; one that would expire sooner is never taken
      // (validity is in whole seconds, so a renewal within the same second ties).
      next = stored && stored.notAfter.getTime() >= current.notAfter.getTime() ? stored : null;
    }
    if (!next || next.certPem === current.certPem) return null;
    this.current = next;
    this.saveCopy(next);
    this.onRenew?.(next);
    this.o.logger.info({ notAfter: next.notAfter.toISOString() }, 'serving certificate renewed');
    return next;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.onRenew = null;
  }

  private arm(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.refresh()
        .then(() => this.nextDelay())
        .catch((err: Error) => {
          this.o.logger.error({ err: err.message }, 'serving certificate renewal failed; trying again later');
          return Math.min(RETRY_AFTER_FAILURE_MS, this.refreshMs());
        })
        .then((delay) => {
          if (this.onRenew) this.arm(delay);
        });
    }, Math.min(Math.max(delayMs, 0), 2 ** 31 - 1));
    this.timer.unref();
  }

  /** Until the renewal is due; with replicas, at most refreshMs, so that another's renewal is seen. */
  private nextDelay(): number {
    const untilDue = this.current ? this.dueAt(this.current) - this.o.clock.nowMs() : 0;
    return this.o.shared ? Math.min(untilDue, this.refreshMs()) : untilDue;
  }

  private refreshMs(): number {
    return this.o.shared ? (this.o.refreshMs ?? 60_000) : RETRY_AFTER_FAILURE_MS;
  }

  private dueAt(c: ServingCredentials): number {
    const life = c.notAfter.getTime() - c.notBefore.getTime();
    return c.notBefore.getTime() + life * this.o.renewAtFraction;
  }

  private dueForRenewal(c: ServingCredentials): boolean {
    return this.o.clock.nowMs() >= this.dueAt(c);
  }

  /**
   * A certificate not due for renewal. The shared one when it is; otherwise whoever gets the lock
   * obtains one for everybody, and a replica that does not get it waits for what the holder stores
   * (and tries the lock again, in case the holder failed), up to waitMs.
   */
  private async acquire(file: ServingCredentials | null, seen?: (c: ServingCredentials) => void): Promise<ServingCredentials> {
    const deadline = Date.now() + (this.o.waitMs ?? 45_000);
    for (;;) {
      const stored = await this.readShared();
      if (stored) seen?.(stored);
      if (stored && !this.dueForRenewal(stored)) return stored;
      const got = await this.shared.exclusive(() => this.obtainUnderLock(file));
      if (got.ran) return got.value;
      if (Date.now() >= deadline) throw new Error('another replica is obtaining the serving certificate and has not stored one in time');
      await new Promise((r) => setTimeout(r, this.o.waitPollMs ?? 250));
    }
  }

  /** Inside the lock: look again (the previous holder may just have stored one), else get one and store it. */
  private async obtainUnderLock(file: ServingCredentials | null): Promise<ServingCredentials> {
    const raw = await this.shared.read();
    const stored = raw !== null ? this.decode(raw) : null;
    if (stored && !this.dueForRenewal(stored)) return stored;
    // A fresh file copy from before the certificate was shared (an upgrade, or SQLite → PostgreSQL)
    // is published as it is rather than replaced by a new one from the PCA.
    const creds = file && !this.dueForRenewal(file) && (!stored || file.notAfter > stored.notAfter) ? file : await this.obtain();
    if (this.o.shared && !(await this.shared.write(raw, encodeRecord(creds, this.o.shared.sealer)))) {
      // Someone wrote while we held the lock (it was lost with its connection): theirs is what the others serve.
      const theirs = await this.readShared();
      if (theirs && !this.dueForRenewal(theirs)) return theirs;
    }
    return creds;
  }

  /**
   * The file copy. With replicas the database holds the certificate, so a copy that cannot be
   * written (a read-only directory) costs only the fallback; alone, the copy is all there is.
   */
  private saveCopy(c: ServingCredentials): void {
    try {
      saveCacheFiles(this.o.cacheDir, c);
    } catch (err) {
      if (!this.o.shared) throw err;
      this.o.logger.warn({ err: (err as Error).message, dir: this.o.cacheDir }, 'could not write the file copy of the serving certificate; serving the one from the database');
    }
  }

  private async readShared(): Promise<ServingCredentials | null> {
    const raw = await this.shared.read();
    return raw !== null ? this.decode(raw) : null;
  }

  /** A record that does not open (another KEK, another host) counts as absent, and is replaced. */
  private decode(raw: string): ServingCredentials | null {
    try {
      return decodeRecord(raw, this.o.shared!.sealer, this.o.host);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'the stored serving certificate cannot be used (is eab-kek.key the same on every replica?); obtaining a new one');
      return null;
    }
  }

  private async obtain(): Promise<ServingCredentials> {
    const csr = await makeCsr([this.o.host], { keyType: 'P256', commonName: null });
    const signed = await this.o.pca.sign(csr.csrPem, { period: this.o.periodDays });
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', csr.keys.privateKey);
    const leaf = new X509Certificate(signed.leafPem);
    const creds: ServingCredentials = {
      keyPem: toPem('PRIVATE KEY', new Uint8Array(pkcs8)),
      certPem: [signed.leafPem, ...signed.chainPems].map((p) => `${p.trim()}\n`).join(''),
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
    };
    this.saveCopy(creds);
    this.o.logger.info({ host: this.o.host, serial: signed.serialNo, notAfter: creds.notAfter.toISOString() }, 'serving certificate obtained from the PCA');
    return creds;
  }
}
