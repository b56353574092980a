import { X509Certificate as NodeX509 } from 'node:crypto';
import { DEFAULT_BEHAVIOUR, type SimulatorBehaviour } from './behaviour.js';
import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import type { Random } from '../../platform/random.js';
import { toPem } from '../../acme/pem.js';
import { colonSerial, serialHex, type CaMaterial } from './ca.js';
import { buildCrl } from './crl.js';
import { PcaApiError, notFound } from './api-error.js';
import { keyShapeOf, ncpKeyName, type KeyShape } from '../key-shape.js';
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
  /** The PCA's own clock (behaviour clockOffsetMs already applied). */
  clock: Clock;
  random: Random;
  logger?: Logger;
  /** The behaviours in force (behaviour.ts), read on every request. */
  behaviour?: () => SimulatorBehaviour;
}

/** ncp-pca-api §3: a period is a string of whole days 1..3650, or MAX. */
const PERIOD_DAYS = /^[1-9]\d{0,3}$/;
/** §3, §4.5: serials are colon-separated upper-case hex octets, written raw in the path. */
const SERIAL = /^[0-9A-F]{2}(:[0-9A-F]{2})*$/;

/** Sign-time fault switches (see faults.ts). */
export interface SignFaults {
  wrongKey: boolean;
}

/** The PCA operations behind the routes: each returns the envelope's `data` or throws PcaApiError. */
export class SimulatorApi {
  /** The issuing CA's key, as the key rule and keyType/keyBits compare it. */
  private readonly caKey: KeyShape;
  /** The CRL as last published (behaviour crlCycleMs > 0). */
  private published: { crl: Buffer; at: number } | null = null;

  constructor(private readonly d: SimulatorApiDeps) {
    const shape = keyShapeOf(new NodeX509(d.ca.issuing.pem).publicKey);
    if (!shape) throw new Error('the simulator CA key is neither RSA nor a supported EC curve');
    this.caKey = shape;
  }

  private behaviour(): SimulatorBehaviour {
    return this.d.behaviour?.() ?? DEFAULT_BEHAVIOUR;
  }

  /** The CA's end: its certificate's, or sooner when behaviour caExpiresInDays says so. */
  private caNotAfter(now: number): number {
    const real = this.d.ca.issuing.cert.notAfter.getTime();
    const days = this.behaviour().caExpiresInDays;
    return days === null ? real : Math.min(real, now + Math.round(days * DAY_MS));
  }

  get crlUrl(): string {
    return `${this.d.baseUrl()}/ext/${this.d.caTag}/crl`;
  }

  // ncp-pca-api §3.1. Strict where the documentation is: the body's csrPem, `period` only in the body
  // and only as a string of days or MAX; keyType/keyBits (SDK and NAVER's issuer, not the docs) must
  // describe the CA's key, as NAVER's issuer derives them from the CA certificate.
  async sign(body: Record<string, unknown>, query: URLSearchParams, faults: SignFaults): Promise<unknown> {
    const behaviour = this.behaviour();
    if (query.has('period')) throw new PcaApiError(400, 'INVALID_INPUT_PERIOD', 'period goes in the request body.');
    const csrPem = body.csrPem;
    if (typeof csrPem !== 'string' || csrPem.trim() === '') throw new PcaApiError(400, 'EMPTY_CSR', 'csr is missing.');
    if (behaviour.caStatus !== 'ACTIVE') throw new PcaApiError(400, 'INVALID_CA_STATUS', `the CA is ${behaviour.caStatus}, not ACTIVE.`);
    this.checkKeyFields(body.keyType, body.keyBits);
    const now = this.d.clock.nowMs();
    const issuer = this.d.ca.issuing;
    const notAfter = this.resolveNotAfter(body.period, now, this.caNotAfter(now));
    const csr = await parseCsr(csrPem);
    const shape = csr.keyShape;
    if (behaviour.keyRule === 'ca' && (shape.kind !== this.caKey.kind || shape.bits !== this.caKey.bits)) {
      throw new PcaApiError(400, 'INVALID_X509_KEY_TYPE', `this CA signs ${ncpKeyName(this.caKey)} keys only; the CSR has ${ncpKeyName(shape)}.`);
    }

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
    // ncp-pca-api §3.1 / §4.3: certificate = leaf, issuer = issuing CA, caChain = [issuer .. root]:
    // an array as the current docs and the SDK have it, or one string as an older page did.
    const caChain = behaviour.caChain === 'string' ? this.d.ca.chainPems.join('') : this.d.ca.chainPems;
    return { certificate: certPem, caChain, issuer: issuer.pem, ocspResponder: '', serialNo };
  }

  /** keyType/keyBits, when sent, as NAVER's issuer sends them: "RSA"/"ECDSA" and the bits, of the CA's key. */
  private checkKeyFields(keyType: unknown, keyBits: unknown): void {
    if (keyType === undefined && keyBits === undefined) return;
    const kind = keyType === 'RSA' ? 'RSA' : keyType === 'ECDSA' ? 'EC' : null;
    if (!kind || typeof keyBits !== 'string' || !/^[1-9]\d{2,4}$/.test(keyBits)) {
      throw new PcaApiError(400, 'INVALID_X509_KEY_TYPE', 'keyType must be RSA or ECDSA and keyBits a number of bits, both strings.');
    }
    if (kind !== this.caKey.kind || Number(keyBits) !== this.caKey.bits) {
      throw new PcaApiError(400, 'INVALID_X509_KEY_TYPE', `keyType/keyBits ${keyType}/${keyBits} do not match the CA's key (${ncpKeyName(this.caKey)}).`);
    }
  }

  /** period: a string of days 1..3650, or MAX (= the CA's end); omitted → the default. */
  private resolveNotAfter(period: unknown, now: number, caNotAfter: number): number {
    if (period === undefined) return Math.min(now + this.d.defaultPeriodDays * DAY_MS, caNotAfter);
    if (period === 'MAX') return caNotAfter;
    const days = typeof period === 'string' && PERIOD_DAYS.test(period) ? Number(period) : NaN;
    if (!(days >= 1 && days <= 3650)) {
      throw new PcaApiError(400, 'INVALID_INPUT_PERIOD', 'period must be a string of 1-3650 days, or MAX.');
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

  // ncp-pca-api §3.4: pageNo is the SDK's (the docs list no query); order and page size undocumented.
  listCerts(query: URLSearchParams): unknown {
    const raw = query.get('pageNo');
    const asked = raw === null || raw === '' ? 1 : /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(asked) || asked < 1) throw new PcaApiError(400, 'INVALID_INPUT_PAGENUMBBER', 'invalid page number.');
    const behaviour = this.behaviour();
    // behaviour listPaging 'ignored': page 1 whatever was asked, as a PCA that does not know pageNo would.
    const pageNo = behaviour.listPaging === 'ignored' ? 1 : asked;
    const serials = this.d.store.list().map((r) => r.serialNo);
    if (behaviour.listOrder === 'newest-first') serials.reverse();
    const start = (pageNo - 1) * CERT_PAGE_SIZE;
    return {
      totalCnt: serials.length,
      listCerts: serials.slice(start, start + CERT_PAGE_SIZE),
      totalPageNo: Math.ceil(serials.length / CERT_PAGE_SIZE),
      currentPageNo: pageNo,
    };
  }

  // ncp-pca-api §3.6: one PEM string, issuing CA first.
  chain(): string {
    return this.d.ca.chainPems.join('');
  }

  // ncp-pca-api §3.7
  async crlPem(): Promise<string> {
    return toPem('X509 CRL', new Uint8Array(await this.crl()));
  }

  /** The CRL as published: built on every read, or (behaviour crlCycleMs) once per cycle and on rotate. */
  async crl(): Promise<Buffer> {
    const cycle = this.behaviour().crlCycleMs;
    const now = this.d.clock.nowMs();
    if (cycle === 0) return buildCrl(this.d.ca.issuing, this.d.store.list(), new Date(now));
    if (!this.published || now - this.published.at >= cycle) await this.rotateCrl();
    return this.published!.crl;
  }

  // ncp-pca-api §3.8: POST /ca/{caTag}/crl/rotate regenerates the CRL now; data null.
  async rotateCrl(): Promise<null> {
    const now = this.d.clock.nowMs();
    this.published = { crl: buildCrl(this.d.ca.issuing, this.d.store.list(), new Date(now)), at: now };
    return null;
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
    // §3, §4.5: only as documented, upper-case colon hex written raw (no %3A, no lower case).
    if (!SERIAL.test(serialNo)) throw new PcaApiError(400, 'INVALID_INPUT_SERIAL_NO', 'invalid serial number.');
    const rec = this.d.store.get(serialNo);
    if (!rec) throw notFound('certificate');
    return rec;
  }

  /** ncp-pca-api §3.9: this CA's details (GET /ca lists every CA's, server.ts). */
  caDetail(): unknown {
    const { issuing } = this.d.ca;
    const behaviour = this.behaviour();
    const node = new NodeX509(issuing.pem);
    const field = (dn: string, key: string): string | null => dn.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1) ?? null;
    return {
      caInfo: {
        caId: this.d.caId ?? 1,
        caTag: this.d.caTag,
        alias: 'simulator',
        memo: 'acme-pca-gateway embedded PCA simulator',
        caType: this.d.tiers === 2 ? 'PRIVATE_SUB' : 'PRIVATE_ROOT',
        status: behaviour.caStatus,
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
        notAfterDate: this.caNotAfter(this.d.clock.nowMs()),
        publicKeyAlgorithm: this.caKey.kind,
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
