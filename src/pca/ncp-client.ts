import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { buildIssuerChain } from './chain.js';
import { PcaError, type PcaErrorOptions } from './errors.js';
import { classifyNcpError, type NcpOperation } from './ncp-errors.js';
import { parsePemBlocks, splitCertificatePems, toPem } from '../acme/pem.js';
import { certificateKeyShape, signKeyFields } from './key-shape.js';
import { signatureV2 } from './signature.js';
import type { PcaCaInfo, PcaCertInfo, PcaCertPage, PcaClient, PcaPeriod, PcaSignOptions, PcaSignResult } from './types.js';

export interface NcpPcaClientOptions {
  /** e.g. https://pca.apigw.ntruss.com or http://127.0.0.1:14001; /api/v1 is appended unless present. */
  endpoint: string;
  caTag: string;
  accessKey: string;
  secretKey: string;
  /** Per-call timeout; default 30 s. */
  timeoutMs?: number;
  clock: Clock;
  logger?: Logger;
  /** Extra PEM trust anchors for https endpoints (e.g. a corporate proxy CA). */
  ca?: string;
}

/** Largest response body we read; CRLs of a busy CA are the biggest legitimate answers. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const SERIAL_RE = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})*$/;

interface RawResponse {
  status: number;
  body: string;
  /** The Date header: the PCA gateway's clock (`pca check` measures the skew against it). */
  date: string | undefined;
}

/** The last answer the PCA gave, whatever it said: when it came and the gateway's clock then. */
export interface LastAnswer {
  status: number;
  /** The answer's Date header, when it had a valid one. */
  serverDate: Date | null;
  /** Our clock when the request was sent and when the answer came (epoch ms). */
  sentAt: number;
  receivedAt: number;
}

/**
 * NAVER Cloud Private CA REST client (ncp-pca-api §1–§3). One instance per CA target; keep-alive
 * agents are owned by the instance and released by close().
 */
export class NcpPcaClient implements PcaClient {
  private readonly base: URL;
  private readonly basePath: string;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly timeoutMs: number;
  private last: LastAnswer | null = null;

  constructor(private readonly opts: NcpPcaClientOptions) {
    this.base = new URL(opts.endpoint);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') throw new Error('PCA endpoint must be http(s)');
    // ncp-pca-api §4.1: the wire path is always /api/v1/...; accept the endpoint with or without it.
    const path = this.base.pathname.replace(/\/+$/, '');
    this.basePath = path.endsWith('/api/v1') ? path : `${path}/api/v1`;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    // Idle keep-alive sockets are dropped after 4 s, before common server idle timeouts (Node: 5 s), so a
    // request is rarely written to a socket the server is closing (which would look like an outcome-unknown
    // network error on sign). The agent's timeout only destroys *free* sockets; calls use their own timeout.
    const agentOpts = { keepAlive: true, maxSockets: 32, timeout: 4_000 };
    if (this.base.protocol === 'https:') {
      this.transport = https;
      // `ca` replaces Node's default trust store, so the system roots are passed along with the extra PEM.
      this.agent = new https.Agent({ ...agentOpts, ...(opts.ca ? { ca: [...tls.rootCertificates, opts.ca] } : {}) });
    } else {
      this.transport = http;
      this.agent = new http.Agent(agentOpts);
    }
  }

  close(): void {
    this.agent.destroy();
  }

  /** The last answer received (any status), for the clock-skew check of `pca check`; null before any. */
  lastAnswer(): LastAnswer | null {
    return this.last;
  }

  // ncp-pca-api §3.1. The body as NAVER's issuer sends it (pkg/pca/pca.go Sign): csrPem trimmed,
  // period a string of days, keyType/keyBits of the CA's key; see pca/ncp-fields.md.
  async sign(csrPem: string, opts: PcaSignOptions = {}): Promise<PcaSignResult> {
    const body: Record<string, string> = { csrPem: csrPem.trim() };
    if (opts.period !== undefined) body.period = formatPeriod(opts.period);
    if (opts.caKey) Object.assign(body, signKeyFields(opts.caKey));
    const data = asObject(await this.call('sign', 'POST', `/ca/${this.caTag()}/cert/sign`, body, opts.signal), 'sign');
    const leafBlock = parsePemBlocks(str(data.certificate), 'CERTIFICATE')[0];
    if (!leafBlock) throw malformed('sign: data.certificate is not a PEM certificate');
    const leafPem = toPem('CERTIFICATE', leafBlock.der);
    const serialNo = str(data.serialNo);
    if (!SERIAL_RE.test(serialNo)) throw malformed('sign: data.serialNo missing or not colon hex');
    const caPems = [...pemList(data.caChain), ...pemList(data.issuer)];
    const chainPems = await buildIssuerChain(leafPem, caPems);
    return { serialNo, leafPem, chainPems };
  }

  // ncp-pca-api §3.6: data is a PEM string (accept an array too).
  async chain(): Promise<string[]> {
    const data = await this.call('chain', 'GET', `/ca/${this.caTag()}/chain`);
    const pems = pemList(data);
    if (pems.length === 0) throw malformed('chain: no certificate in data');
    return pems;
  }

  // ncp-pca-api §3.3: serial raw in the path (colons unescaped), no body, data null.
  async revoke(serialNo: string): Promise<void> {
    await this.call('revoke', 'POST', `/ca/${this.caTag()}/cert/${checkSerial(serialNo)}/revoke`);
  }

  // ncp-pca-api §3.5
  async getCert(serialNo: string): Promise<PcaCertInfo> {
    const data = asObject(await this.call('getCert', 'GET', `/ca/${this.caTag()}/cert/${checkSerial(serialNo)}`), 'getCert');
    const certBlock = parsePemBlocks(str(data.certPem), 'CERTIFICATE')[0];
    if (!certBlock) throw malformed('getCert: data.certPem is not a PEM certificate');
    return {
      serialNo: str(data.serialNo) || serialNo,
      commonName: str(data.commonName),
      notBefore: epochMs(data.notBeforeDate, 'notBeforeDate'),
      notAfter: epochMs(data.notAfterDate, 'notAfterDate'),
      certPem: toPem('CERTIFICATE', certBlock.der),
      caChainPems: pemList(data.caChain),
      revoked: revokedFlag(data),
    };
  }

  // ncp-pca-api §3.4 (pageNo starts at 1, §4.11). What the page says of itself is passed on as it
  // came: whether it is the page asked for is pca/paging.ts's to judge, not a default to fill in.
  async listCerts(pageNo?: number): Promise<PcaCertPage> {
    if (pageNo !== undefined && (!Number.isInteger(pageNo) || pageNo < 1)) {
      throw new PcaError('malformed', 'listCerts: pageNo must be a positive integer', { retryable: false });
    }
    const query = pageNo === undefined ? '' : `?pageNo=${pageNo}`;
    const data = asObject(await this.call('listCerts', 'GET', `/ca/${this.caTag()}/cert${query}`), 'listCerts');
    const list = data.listCerts ?? [];
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw malformed('listCerts: listCerts is not a string array');
    return {
      serials: list as string[],
      totalCnt: int(data.totalCnt, 'totalCnt'),
      totalPageNo: int(data.totalPageNo, 'totalPageNo'),
      currentPageNo: data.currentPageNo === undefined || data.currentPageNo === null ? null : int(data.currentPageNo, 'currentPageNo'),
    };
  }

  // ncp-pca-api §3.7
  async crl(): Promise<string> {
    const data = await this.call('crl', 'GET', `/ca/${this.caTag()}/crl`);
    const block = typeof data === 'string' ? parsePemBlocks(data, 'X509 CRL')[0] : undefined;
    if (!block) throw malformed('crl: data is not a PEM CRL');
    return toPem('X509 CRL', block.der);
  }

  // ncp-pca-api §3.9: {caInfo, caCertInfo}.
  async getCa(): Promise<PcaCaInfo> {
    const data = asObject(await this.call('getCa', 'GET', `/ca/${this.caTag()}`), 'getCa');
    const info = asObject(data.caInfo, 'getCa caInfo');
    const cert = asObject(data.caCertInfo, 'getCa caCertInfo');
    const block = parsePemBlocks(str(cert.certPem), 'CERTIFICATE')[0];
    const certPem = block ? toPem('CERTIFICATE', block.der) : null;
    let fromCert: { notBefore: Date; notAfter: Date; subject: string } | null = null;
    if (certPem) {
      try {
        const x = new X509Certificate(certPem);
        fromCert = { notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo), subject: x.subject.replace(/\n/g, ', ') };
      } catch {
        fromCert = null;
      }
    }
    const status = str(info.status);
    if (!status) throw malformed('getCa: caInfo.status missing');
    const urls = (info.urlInfo ?? {}) as Record<string, unknown>;
    const stringsOf = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : []);
    return {
      caTag: str(info.caTag) || this.opts.caTag,
      status,
      caType: str(info.caType) || null,
      subject: str(cert.commonName) || fromCert?.subject || '',
      publicKeyAlgorithm: str(cert.publicKeyAlgorithm),
      key: certPem ? certificateKeyShape(certPem) : null,
      notBefore: cert.notBeforeDate !== undefined && cert.notBeforeDate !== null ? epochMs(cert.notBeforeDate, 'notBeforeDate') : (fromCert?.notBefore ?? new Date(0)),
      notAfter:
        cert.notAfterDate !== undefined && cert.notAfterDate !== null
          ? epochMs(cert.notAfterDate, 'notAfterDate')
          : (fromCert?.notAfter ?? (() => { throw malformed('getCa: no notAfterDate and no readable certPem'); })()),
      certPem,
      crlUrls: stringsOf(urls.crl),
      ocspUrls: stringsOf(urls.ocsp),
    };
  }

  // ncp-pca-api §3.8: no body, data null.
  async rotateCrl(): Promise<void> {
    await this.call('rotateCrl', 'POST', `/ca/${this.caTag()}/crl/rotate`);
  }

  private caTag(): string {
    return encodeURIComponent(this.opts.caTag);
  }

  /** Sends one signed request and returns the envelope's `data` (ncp-pca-api §2). */
  private async call(op: NcpOperation, method: 'GET' | 'POST', resource: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const target = `${this.basePath}${resource}`;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const timestamp = String(this.opts.clock.nowMs());
    // ncp-pca-api §1.2: the three x-ncp headers and Content-Type on every call, GET included (§4.10).
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      'x-ncp-apigw-timestamp': timestamp,
      'x-ncp-iam-access-key': this.opts.accessKey,
      'x-ncp-apigw-signature-v2': signatureV2({ method, uri: target, timestamp, accessKey: this.opts.accessKey, secretKey: this.opts.secretKey }),
      'content-length': String(payload?.length ?? 0),
    };
    const started = this.opts.clock.nowMs();
    const res = await this.send(method, target, headers, payload, signal);
    const receivedAt = this.opts.clock.nowMs();
    const serverDate = res.date ? new Date(res.date) : null;
    this.last = { status: res.status, serverDate: serverDate && !Number.isNaN(serverDate.getTime()) ? serverDate : null, sentAt: started, receivedAt };
    this.opts.logger?.debug({ pca: { method, path: resource.split('?')[0], status: res.status, ms: receivedAt - started } }, 'pca call');
    return this.parseEnvelope(op, res);
  }

  private send(method: string, path: string, headers: Record<string, string>, payload: Buffer | undefined, callerSignal?: AbortSignal): Promise<RawResponse> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout;
    const abortError = (): PcaError =>
      timeout.aborted
        ? new PcaError('timeout', `PCA ${method} timed out after ${this.timeoutMs} ms`)
        : new PcaError('timeout', `PCA ${method} aborted by caller`, { cause: callerSignal?.reason });

    return new Promise<RawResponse>((resolve, reject) => {
      if (signal.aborted) return reject(abortError());
      const req = this.transport.request(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname,
          port: this.base.port || undefined,
          method,
          path,
          headers,
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy();
              reject(malformed('response body too large'));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), date: res.headers.date }));
          res.on('error', (e) => reject(signal.aborted ? abortError() : network(e)));
          res.on('aborted', () => reject(signal.aborted ? abortError() : new PcaError('network', 'PCA connection closed mid-response')));
        },
      );
      const onAbort = (): void => {
        req.destroy();
        reject(abortError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal.removeEventListener('abort', onAbort));
      req.on('error', (e) => reject(signal.aborted ? abortError() : network(e)));
      req.end(payload);
    });
  }

  private parseEnvelope(op: NcpOperation, { status, body }: RawResponse): unknown {
    let json: unknown;
    try {
      json = body === '' ? undefined : JSON.parse(body);
    } catch {
      json = undefined;
    }
    const obj = json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;

    if (status < 200 || status > 299) {
      // Gateway errors (ncp-pca-api §1.3 table) use {"error":{errorCode,message,details}}; PCA errors use the envelope.
      const gw = obj?.error !== null && typeof obj?.error === 'object' ? (obj.error as Record<string, unknown>) : undefined;
      const code = gw ? str(gw.errorCode) : str(obj?.code);
      const msg = gw ? str(gw.message) : str(obj?.msg);
      throw this.answerError(op, status, code, msg, gw ? str(gw.details) : '');
    }
    if (!obj || typeof obj.code !== 'string') throw malformed(`HTTP ${status} without a {code,msg,data} envelope`);
    if (obj.code !== 'SUCCESS') throw this.answerError(op, status, obj.code, str(obj.msg), '');
    return obj.data;
  }

  /** The PcaError for an error answer, classified here (ncp-errors.ts) and with our credentials blanked out of the text. */
  private answerError(op: NcpOperation, status: number, code: string, rawMsg: string, rawDetails: string): PcaError {
    const msg = this.redact(rawMsg);
    const details = this.redact(rawDetails);
    const opts: PcaErrorOptions = { httpStatus: status, reason: classifyNcpError(op, status, code) };
    if (code) opts.code = code;
    if (msg) opts.pcaMessage = msg.slice(0, 500);
    if (details) opts.pcaDetails = details.slice(0, 500);
    return new PcaError('http', `PCA answered HTTP ${status}${code ? ` ${code}` : ''}${msg ? `: ${msg.slice(0, 200)}` : ''}`, opts);
  }

  /**
   * A gateway that echoes the request (e.g. "invalid access key ncp_iam_...") must not put our keys into
   * problems or logs. Real NCP keys are 20+ characters; a shorter one could not be told from ordinary words.
   */
  private redact(text: string): string {
    let out = text;
    for (const key of [this.opts.secretKey, this.opts.accessKey]) if (key.length >= 8) out = out.split(key).join('[redacted]');
    return out;
  }
}

function formatPeriod(period: PcaPeriod): string {
  if (period === 'MAX') return 'MAX';
  if (!Number.isInteger(period) || period < 1 || period > 3650) {
    throw new PcaError('malformed', 'period must be whole days 1..3650 or MAX', { retryable: false });
  }
  return String(period);
}

function checkSerial(serialNo: string): string {
  // ncp-pca-api §4.5: colons go raw into the path and are signed as sent.
  if (!SERIAL_RE.test(serialNo)) throw new PcaError('malformed', 'serial number must be colon-separated hex', { retryable: false });
  return serialNo;
}

/**
 * §3.5 documents no revocation status for Get issued cert; a PCA that sends one (`status`
 * "REVOKED"/"VALID", or a revocation date) is believed, otherwise null and the CRL decides.
 */
function revokedFlag(data: Record<string, unknown>): boolean | null {
  const status = str(data.status ?? data.certStatus).toUpperCase();
  if (status === 'REVOKED') return true;
  if (status === 'VALID' || status === 'ACTIVE' || status === 'ISSUED') return false;
  for (const k of ['revokeDate', 'revokedDate', 'revocationDate']) if (data[k] !== undefined && data[k] !== null && data[k] !== '') return true;
  return null;
}

/** caChain / issuer / chain data: a PEM string, an array of PEM strings, empty entries tolerated (§4.3). */
function pemList(value: unknown): string[] {
  if (typeof value === 'string') return splitCertificatePems(value);
  if (Array.isArray(value)) return splitCertificatePems(value.filter((v): v is string => typeof v === 'string').join('\n'));
  return [];
}

function asObject(data: unknown, what: string): Record<string, unknown> {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw malformed(`${what}: data is not an object`);
  return data as Record<string, unknown>;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

function int(v: unknown, field: string): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw malformed(`${field} is not a non-negative integer`);
  return n;
}

function epochMs(v: unknown, field: string): Date {
  // ncp-pca-api §3: dates are epoch milliseconds (numbers; tolerate numeric strings).
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw malformed(`${field} is not epoch ms`);
  return new Date(n);
}

const malformed = (message: string): PcaError => new PcaError('malformed', `PCA response malformed: ${message}`);

function network(e: unknown): PcaError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return new PcaError('network', `PCA connection failed${code ? ` (${code})` : ''}`, { cause: e });
}
