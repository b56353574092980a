import { X509Certificate, webcrypto } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../acme/pem.js';
import type { PcaClient } from './types.js';
import { makeCsr } from './make-csr.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { writePrivateFile } from '../platform/private-file.js';

// tls.mode "pca": the ACME listener's own certificate comes from the Private CA it fronts, so a client
// that trusts the PCA root (as it must to use the certificates) also trusts the directory. The key
// and chain are kept on disk and reused while fresh, so a restart during a PCA outage still serves.

export interface ServingCredentials {
  keyPem: string;
  certPem: string;
  notBefore: Date;
  notAfter: Date;
}

export class ServingCertificateManager {
  private timer: NodeJS.Timeout | null = null;
  private current: ServingCredentials | null = null;

  constructor(
    private readonly o: {
      pca: PcaClient;
      host: string;
      periodDays: number;
      cacheDir: string;
      renewAtFraction: number;
      clock: Clock;
      logger: Logger;
    },
  ) {}

  /** Loads a fresh cached certificate, or gets a new one from the PCA. */
  async init(): Promise<ServingCredentials> {
    const cached = this.loadCached();
    if (cached && !this.dueForRenewal(cached)) {
      this.current = cached;
      return cached;
    }
    try {
      this.current = await this.obtain();
    } catch (err) {
      if (!cached || cached.notAfter.getTime() <= this.o.clock.nowMs()) throw err;
      this.o.logger.warn({ err: (err as Error).message }, 'could not renew the serving certificate; using the cached one');
      this.current = cached;
    }
    return this.current;
  }

  /** Renews in the background when due; onRenew swaps the server's secure context. */
  scheduleRenewal(onRenew: (creds: ServingCredentials) => void): void {
    if (!this.current) return;
    const c = this.current;
    const life = c.notAfter.getTime() - c.notBefore.getTime();
    const dueAt = c.notBefore.getTime() + life * this.o.renewAtFraction;
    const delay = Math.min(Math.max(dueAt - this.o.clock.nowMs(), 0), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      this.obtain()
        .then((creds) => {
          this.current = creds;
          onRenew(creds);
          this.o.logger.info({ notAfter: creds.notAfter.toISOString() }, 'serving certificate renewed');
        })
        .catch((err: Error) => this.o.logger.error({ err: err.message }, 'serving certificate renewal failed; retrying in 5 minutes'))
        .finally(() => {
          if (this.timer) this.scheduleRenewalIn(onRenew);
        });
    }, delay);
    this.timer.unref();
  }

  private scheduleRenewalIn(onRenew: (creds: ServingCredentials) => void): void {
    if (this.current && !this.dueForRenewal(this.current)) this.scheduleRenewal(onRenew);
    else {
      this.timer = setTimeout(() => this.scheduleRenewal(onRenew), 5 * 60_000);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private dueForRenewal(c: ServingCredentials): boolean {
    const life = c.notAfter.getTime() - c.notBefore.getTime();
    return this.o.clock.nowMs() >= c.notBefore.getTime() + life * this.o.renewAtFraction;
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
    this.save(creds);
    this.o.logger.info({ host: this.o.host, serial: signed.serialNo, notAfter: creds.notAfter.toISOString() }, 'serving certificate obtained from the PCA');
    return creds;
  }

  private paths() {
    return { key: join(this.o.cacheDir, 'serving-key.pem'), cert: join(this.o.cacheDir, 'serving-cert.pem') };
  }

  private loadCached(): ServingCredentials | null {
    try {
      const { key, cert } = this.paths();
      const certPem = readFileSync(cert, 'utf8');
      const keyPem = readFileSync(key, 'utf8');
      const leaf = new X509Certificate(certPem);
      const names = (leaf.subjectAltName ?? '').toLowerCase();
      if (!names.includes(`dns:${this.o.host.toLowerCase()}`) && !names.includes(`ip address:${this.o.host.toLowerCase()}`)) return null;
      return { keyPem, certPem, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo) };
    } catch {
      return null;
    }
  }

  private save(c: ServingCredentials): void {
    mkdirSync(this.o.cacheDir, { recursive: true });
    const { key, cert } = this.paths();
    writePrivateFile(`${key}.tmp`, c.keyPem); // 0600 even over a stale .tmp left by a crash
    renameSync(`${key}.tmp`, key);
    writeFileSync(`${cert}.tmp`, c.certPem);
    renameSync(`${cert}.tmp`, cert);
  }
}
