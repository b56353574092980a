import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import tls from 'node:tls';

// The HTTP and TLS dialers of the validation authority. They connect to an address the caller has
// already resolved and checked (so DNS goes through the injected resolver, never getaddrinfo, and
// the address connected to is the one the address policy approved: no second lookup, no DNS
// rebinding), use no agent pool and no proxy, and always release the socket: on success, error,
// body limit or abort. Anything that is not an IP literal is refused before a socket exists.

export type NetErrorKind =
  /** TCP connection refused (RST to SYN). */
  | 'refused'
  /** Connection reset or closed by the peer mid-exchange. */
  | 'reset'
  /** No route / network down / address not usable. */
  | 'unreachable'
  /** The OS gave up (ETIMEDOUT). Caller-side deadlines arrive as 'aborted'. */
  | 'timeout'
  /** TLS handshake failure (alert, bad record, protocol mismatch). */
  | 'tls'
  /** The peer spoke something that is not HTTP/1.x. */
  | 'protocol'
  /** The caller's signal fired (its own deadline or a cancel). */
  | 'aborted'
  | 'other';

export class NetError extends Error {
  constructor(
    readonly kind: NetErrorKind,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'NetError';
  }
}

function classify(err: unknown, tlsPhase: boolean): NetError {
  if (err instanceof NetError) return err;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; reason?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  // OpenSSL errors carry a short `reason` ("wrong version number"); the message is a raw error stack.
  const message = (typeof e?.reason === 'string' ? e.reason : typeof e?.message === 'string' ? e.message : String(err)).trim();
  if (e?.name === 'AbortError' || code === 'ABORT_ERR') return new NetError('aborted', 'aborted', code);
  switch (code) {
    case 'ECONNREFUSED':
      return new NetError('refused', 'connection refused', code);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENETDOWN':
    case 'EHOSTDOWN':
      return new NetError('unreachable', `network unreachable (${code})`, code);
    case 'ETIMEDOUT':
      return new NetError('timeout', 'connection timed out', code);
  }
  if (code?.startsWith('ERR_SSL_') || code?.startsWith('ERR_TLS_') || /SSL routines|alert/i.test(message)) {
    return new NetError('tls', `TLS error: ${message}`, code);
  }
  if (tlsPhase) return new NetError('tls', `TLS handshake failed: ${message}`, code);
  if (code?.startsWith('HPE_')) return new NetError('protocol', `malformed HTTP response (${code})`, code);
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new NetError('reset', 'connection reset by peer', code);
  }
  return new NetError('other', message, code);
}

export interface HttpGetOptions {
  /** http: or https: URL; its hostname is only used for Host and SNI, never resolved. */
  url: URL;
  /** The IP address to connect to. */
  address: string;
  /** Aborting destroys the socket; the promise then rejects with NetError kind 'aborted'. */
  signal: AbortSignal;
  /** Read at most this many body bytes; beyond it the connection is dropped and `bodyTooLarge` set. */
  maxBodyBytes: number;
  headers?: Record<string, string>;
}

export interface HttpGetResult {
  status: number;
  location?: string;
  /** The Content-Type header as sent (for describing a body without echoing it). */
  contentType?: string;
  /** The Content-Length header, when it was a number. */
  declaredLength?: number;
  body: Buffer;
  bodyTooLarge: boolean;
}

/** How the validators reach the network; tests inject one that records every connect attempt. */
export interface Dialer {
  httpGet(opts: HttpGetOptions): Promise<HttpGetResult>;
  tlsProbe(opts: TlsProbeOptions): Promise<TlsProbeResult>;
}

/** A host name here would be resolved by getaddrinfo behind the policy's back: only literals pass. */
function notAnAddress(address: string): NetError | undefined {
  return isIP(address) ? undefined : new NetError('other', `refusing to connect to ${JSON.stringify(address)}: not an IP address`);
}

/** One GET, no redirects followed (the caller decides which ones are acceptable). */
export function httpGet(opts: HttpGetOptions): Promise<HttpGetResult> {
  const { url, address, signal, maxBodyBytes } = opts;
  const secure = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  const hostname = stripBrackets(url.hostname);

  return new Promise<HttpGetResult>((resolve, reject) => {
    const refusal = notAnAddress(address);
    if (refusal) {
      reject(refusal);
      return;
    }
    if (signal.aborted) {
      reject(new NetError('aborted', 'aborted'));
      return;
    }
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    const base: http.RequestOptions = {
      host: address,
      port,
      method: 'GET',
      path: url.pathname + url.search,
      setHost: false,
      agent: false,
      signal,
      headers: { Host: url.host, Accept: '*/*', Connection: 'close', ...opts.headers },
    };
    // Redirects may lead to https; certificate validity is irrelevant to http-01 (RFC 8555 §8.3
    // only asks for the body), so it is not checked, but SNI is still sent for name-based hosts.
    const req = secure
      ? https.request({ ...base, rejectUnauthorized: false, servername: isIP(hostname) ? undefined : hostname })
      : http.request(base);

    // Once the caller's signal has fired, every later error is a consequence of it.
    const fail = (err: unknown) => finish(() => reject(signal.aborted ? new NetError('aborted', 'aborted') : classify(err, false)));
    req.on('error', fail);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const location = typeof res.headers.location === 'string' ? res.headers.location : undefined;
      const contentType = res.headers['content-type'];
      const chunks: Buffer[] = [];
      let size = 0;
      const declaredHeader = res.headers['content-length'];
      const declared = declaredHeader === undefined ? NaN : Number(declaredHeader);
      const meta = { status, location, contentType, declaredLength: Number.isFinite(declared) ? declared : undefined };
      if (Number.isFinite(declared) && declared > maxBodyBytes) {
        req.destroy();
        finish(() => resolve({ ...meta, body: Buffer.alloc(0), bodyTooLarge: true }));
        return;
      }
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > maxBodyBytes) {
          chunks.push(chunk.subarray(0, chunk.length - (size - maxBodyBytes)));
          req.destroy();
          finish(() => resolve({ ...meta, body: Buffer.concat(chunks), bodyTooLarge: true }));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish(() => resolve({ ...meta, body: Buffer.concat(chunks), bodyTooLarge: false })));
      res.on('error', fail);
      res.on('close', () => {
        if (!res.complete) finish(() => reject(signal.aborted ? new NetError('aborted', 'aborted') : new NetError('reset', 'connection closed before the response body was complete')));
      });
    });
    req.end();
  });
}

export interface TlsProbeOptions {
  address: string;
  port: number;
  /** SNI; omitted when empty (Node refuses IP literals as SNI, RFC 6066 §3). */
  servername: string;
  alpnProtocols: string[];
  signal: AbortSignal;
}

export interface TlsProbeResult {
  /** The negotiated ALPN protocol, or false when the server chose none. */
  alpnProtocol: string | false;
  /** DER of the leaf certificate the server presented, if any. */
  certificateDer?: Buffer;
}

/** A TLS handshake only: read the negotiated ALPN and the leaf certificate, then close. */
export function tlsProbe(opts: TlsProbeOptions): Promise<TlsProbeResult> {
  return new Promise<TlsProbeResult>((resolve, reject) => {
    const refusal = notAnAddress(opts.address);
    if (refusal) {
      reject(refusal);
      return;
    }
    if (opts.signal.aborted) {
      reject(new NetError('aborted', 'aborted'));
      return;
    }
    let settled = false;
    let tcpConnected = false;
    const socket = tls.connect({
      host: opts.address,
      port: opts.port,
      servername: opts.servername && !isIP(opts.servername) ? opts.servername : undefined,
      ALPNProtocols: opts.alpnProtocols,
      // The validation certificate is self-signed by design (RFC 8737 §3); we check its content.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2', // RFC 8737 §4
    });
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      fn();
    };
    const onAbort = () => done(() => reject(new NetError('aborted', 'aborted')));
    opts.signal.addEventListener('abort', onAbort, { once: true });

    socket.once('connect', () => {
      tcpConnected = true;
    });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      const result: TlsProbeResult = { alpnProtocol: socket.alpnProtocol ?? false, certificateDer: cert?.raw };
      done(() => resolve(result));
    });
    socket.on('error', (err) => done(() => reject(classify(err, tcpConnected))));
    socket.once('close', () => done(() => reject(new NetError(tcpConnected ? 'tls' : 'reset', 'connection closed during the TLS handshake'))));
  });
}

/** The real network. */
export const nodeDialer: Dialer = { httpGet, tlsProbe };

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
