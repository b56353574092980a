import { X509Certificate as NodeX509 } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import type { Random } from '../../platform/random.js';
import { x509 } from '../x509-setup.js';
import { toPem } from '../../acme/pem.js';
import { colonSerial, serialHex, type CaMaterial } from './ca.js';
import { buildCrl } from './crl.js';
import { PcaApiError, notFound } from './api-error.js';
import { freshPublicKey, issueLeaf, parseCsr } from './leaf.js';
import type { IssuedRecord, IssuedStore } from './store.js';

const DAY_MS = 86_400_000;
/** Page size of GET /ca/{caTag}/cert: undocumented at NCP (ncp-pca-api §4.11), 100 here. */
export const CERT_PAGE_SIZE = 100;
const SIGNATURE_ALGORITHM = 'SHA256withECDSA';

export interface SimulatorApiDeps {
  ca: CaMaterial;
  store: IssuedStore;
  caTag: string;
  /** Its number among the CAs the simulator serves (ncp-pca-api §3.9 caId). */
  caId?: number;
  /** http://host:port of the simulator, for the CRL / CA URLs it publishes. */
  baseUrl: () => string;
  tiers: 1 | 2;
  defaultPeriodDays: number;
  clock: Clock;
  random: Random;
  logger?: Logger;
}

/** Sign-time fault switches (see faults.ts). */
export interface SignFaults {
  wrongKey: boolean;
}

/** The PCA operations behind the routes: each returns the envelope's `data` or throws PcaApiError. */
export class SimulatorApi {
  constructor(private readonly d: SimulatorApiDeps) {}

  get crlUrl(): string {
    return `${this.d.baseUrl()}/ext/${this.d.caTag}/crl`;
  }

  // ncp-pca-api §3.1
  async sign(body: Record<string, unknown>, query: URLSearchParams, faults: SignFaults): Promise<unknown> {
    const csrPem = body.csrPem;
    if (typeof csrPem !== 'string' || csrPem.trim() === '') throw new PcaApiError(400, 'EMPTY_CSR', 'csr is missing.');
    const now = this.d.clock.nowMs();
    const issuer = this.d.ca.issuing;
    const notAfter = this.resolveNotAfter(body.period ?? query.get('period') ?? undefined, now, issuer.cert.notAfter.getTime());
    const csr = await parseCsr(csrPem);

    const hex = serialHex(this.d.random);
    const cert = await issueLeaf({
      csr,
      issuer,
      serialHex: hex,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(notAfter),
      crlUrl: this.crlUrl,
      ...(faults.wrongKey ? { substituteKey: await freshPublicKey() } : {}),
    });
    const serialNo = colonSerial(hex);
    const certPem = toPem('CERTIFICATE', cert.der);
    this.d.store.add({
      serialNo,
      certPem,
      issuedAt: now,
      commonName: csr.commonName ?? '',
      names: [...csr.dnsNames, ...csr.ipAddresses],
      spkiSha256: cert.spkiSha256,
      issuerKeyId: issuer.keyId,
      notBefore: cert.notBefore.getTime(),
      notAfter: cert.notAfter.getTime(),
      publicKeyAlgorithm: faults.wrongKey ? 'EC' : csr.keyKind,
    });
    this.d.logger?.info({ serialNo, names: csr.dnsNames.length + csr.ipAddresses.length }, 'simulator issued certificate');
    // ncp-pca-api §3.1 / §4.3: certificate = leaf, issuer = issuing CA, caChain = [issuer .. root] (array).
    return { certificate: certPem, caChain: this.d.ca.chainPems, issuer: issuer.pem, ocspResponder: '', serialNo };
  }

  /** period: days 1..3650 as string or number, or MAX (= the issuing CA's notAfter); omitted → default. */
  private resolveNotAfter(period: unknown, now: number, caNotAfter: number): number {
    if (period === undefined || period === null || period === '') return Math.min(now + this.d.defaultPeriodDays * DAY_MS, caNotAfter);
    if (typeof period === 'string' && period.toUpperCase() === 'MAX') return caNotAfter;
    const days = typeof period === 'number' ? period : typeof period === 'string' && /^\d{1,5}$/.test(period) ? Number(period) : NaN;
    if (!Number.isInteger(days) || days < 1 || days > 3650) {
      throw new PcaApiError(400, 'INVALID_INPUT_PERIOD', 'period must be 1-3650 days or MAX.');
    }
    const notAfter = now + days * DAY_MS;
    // ncp-pca-api §3.1 note (b): a validity beyond the signing CA's fails rather than being cut short.
    if (notAfter > caNotAfter) throw new PcaApiError(400, 'EXCEED_EXPIRY_DATE', 'requested period exceeds the CA expiry date.');
    return notAfter;
  }

  // ncp-pca-api §3.3
  revoke(serialNo: string): null {
    const rec = this.find(serialNo);
    if (rec.revokedAt !== undefined) throw new PcaApiError(400, 'INVALID_STATUS', 'certificate is already revoked.');
    this.d.store.revoke(rec.serialNo, this.d.clock.nowMs());
    this.d.logger?.info({ serialNo: rec.serialNo }, 'simulator revoked certificate');
    return null;
  }

  // ncp-pca-api §3.5
  getCert(serialNo: string): unknown {
    const rec = this.find(serialNo);
    return {
      serialNo: rec.serialNo,
      commonName: rec.commonName,
      notBeforeDate: rec.notBefore,
      notAfterDate: rec.notAfter,
      publicKeyAlgorithm: rec.publicKeyAlgorithm,
      signatureAlgorithm: SIGNATURE_ALGORITHM,
      certPem: rec.certPem,
      caChain: this.d.ca.chainPems.join(''),
      ocspResponder: '',
    };
  }

  // ncp-pca-api §3.4
  listCerts(query: URLSearchParams): unknown {
    const raw = query.get('pageNo');
    const pageNo = raw === null || raw === '' ? 1 : /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(pageNo) || pageNo < 1) throw new PcaApiError(400, 'INVALID_INPUT_PAGENUMBBER', 'invalid page number.');
    const all = this.d.store.list();
    const start = (pageNo - 1) * CERT_PAGE_SIZE;
    return {
      totalCnt: all.length,
      listCerts: all.slice(start, start + CERT_PAGE_SIZE).map((r) => r.serialNo),
      totalPageNo: Math.ceil(all.length / CERT_PAGE_SIZE),
      currentPageNo: pageNo,
    };
  }

  // ncp-pca-api §3.6: one PEM string, issuing CA first.
  chain(): string {
    return this.d.ca.chainPems.join('');
  }

  // ncp-pca-api §3.7
  async crlPem(): Promise<string> {
    return toPem('X509 CRL', new Uint8Array((await this.crl()).rawData));
  }

  async crl(): Promise<x509.X509Crl> {
    return buildCrl(this.d.ca.issuing, this.d.store.list(), this.d.clock.now());
  }

  rootDer(): Buffer {
    return Buffer.from(this.d.ca.root.cert.rawData);
  }

  // ncp-pca-api §3.9
  getCa(): unknown {
    return this.caDetail();
  }

  /** For GET /_simulator/issued. */
  issued(): Array<{ serialNo: string; issuedAt: string; spkiSha256: string; names: string[]; revoked: boolean }> {
    return this.d.store.list().map((r: IssuedRecord) => ({
      serialNo: r.serialNo,
      issuedAt: new Date(r.issuedAt).toISOString(),
      spkiSha256: r.spkiSha256,
      names: r.names,
      revoked: r.revokedAt !== undefined,
    }));
  }

  private find(serialNo: string): IssuedRecord {
    // Serials arrive raw (AB:CD) or percent-encoded; case is not significant.
    let s: string;
    try {
      s = decodeURIComponent(serialNo).toUpperCase();
    } catch {
      throw new PcaApiError(400, 'INVALID_INPUT_SERIAL_NO', 'invalid serial number.');
    }
    if (!/^[0-9A-F]{2}(:[0-9A-F]{2})*$/.test(s)) throw new PcaApiError(400, 'INVALID_INPUT_SERIAL_NO', 'invalid serial number.');
    const rec = this.d.store.get(s);
    if (!rec) throw notFound('certificate');
    return rec;
  }

  /** ncp-pca-api §3.9: this CA's details (GET /ca lists every CA's, server.ts). */
  caDetail(): unknown {
    const { issuing } = this.d.ca;
    const node = new NodeX509(issuing.pem);
    const field = (dn: string, key: string): string | null => dn.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1) ?? null;
    return {
      caInfo: {
        caId: this.d.caId ?? 1,
        caTag: this.d.caTag,
        alias: 'simulator',
        memo: 'acme-pca-gateway embedded PCA simulator',
        caType: this.d.tiers === 2 ? 'PRIVATE_SUB' : 'PRIVATE_ROOT',
        status: 'ACTIVE',
        signingCount: this.d.store.size,
        statusUpdateDate: null,
        destroyDate: null,
        rgstDate: issuing.cert.notBefore.getTime(),
        nrn: `nrn:PUB:PrivateCA::simulator:CA/${this.d.caTag}`,
        urlInfo: { ocsp: [], crl: [this.crlUrl], ca: [`${this.d.baseUrl()}/ext/${this.d.caTag}/ca`] },
      },
      caCertInfo: {
        caCertId: 1,
        commonName: field(node.subject, 'CN'),
        issuerName: field(node.issuer, 'CN'),
        notBeforeDate: issuing.cert.notBefore.getTime(),
        notAfterDate: issuing.cert.notAfter.getTime(),
        publicKeyAlgorithm: 'EC',
        signatureAlgorithm: SIGNATURE_ALGORITHM,
        serialNo: colonSerial(issuing.cert.serialNumber),
        country: null,
        stateProvince: null,
        locality: null,
        organization: field(node.subject, 'O'),
        organizationUnit: field(node.subject, 'OU'),
        certPem: issuing.pem,
        chainPem: this.d.ca.chainPems.join(''),
      },
    };
  }
}
