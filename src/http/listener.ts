import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import { AcmeProblem } from '../acme/problems.js';

export interface TlsCredentials {
  keyPem: string;
  certPem: string;
}

export interface RunningListener {
  server: Server | HttpsServer;
  port: number;
  /** Swap the serving certificate without a restart (renewal). */
  setCredentials(c: TlsCredentials): void;
  close(): Promise<void>;
}

/**
 * What a client may send before the app sees anything. ACME requests have a handful of short
 * headers; the body limit (server.maxBodyBytes) is the app's. Over a limit, the client gets a
 * problem document (RFC 7807) and the connection is closed; a client that sends too slowly (a
 * slowloris holding sockets open with one header byte at a time) is cut off at the timeout.
 */
export interface ListenerLimits {
  /** Request line and headers together (Node's maxHeaderSize); more → 431. */
  maxHeaderBytes: number;
  /** Header fields; more → 431. */
  maxHeaderCount: number;
  /** From the connection (or the previous response) to the end of the headers; then 408. */
  headersTimeoutMs: number;
  /** The whole request, body included; then 408. */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export const DEFAULT_LISTENER_LIMITS: ListenerLimits = {
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
};

/**
 * Serves the Hono app on a Node http or https server. getRequestListener hands the Node response to
 * the app as c.env.outgoing, which the ACME header middleware needs for one-Link-per-line.
 */
export async function listen(
  app: Hono<never>,
  opts: { host: string; port: number; tls: TlsCredentials | null; limits?: Partial<ListenerLimits> },
): Promise<RunningListener> {
  const limits = { ...DEFAULT_LISTENER_LIMITS, ...opts.limits };
  const handler = guarded(getRequestListener(app.fetch), limits);
  const options: ServerOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // How often Node looks for requests past their timeouts (default 30 s, which would let a slow
    // client hold a socket for headersTimeout + 30 s).
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    // The Host check is ours (guarded), so that its refusal is a problem document like every other.
    requireHostHeader: false,
  };
  const server = opts.tls
    ? createHttpsServer({ ...options, key: opts.tls.keyPem, cert: opts.tls.certPem, minVersion: 'TLSv1.2' }, handler)
    : createHttpServer(options, handler);
  // Node silently drops header fields past maxHeadersCount; one more than the limit lets guarded() see the excess.
  server.maxHeadersCount = limits.maxHeaderCount + 1;
  server.on('clientError', answerClientError);
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
    sendProblem(res, new AcmeProblem('malformed', `unsupported Expect: ${clip(String(req.headers.expect))}`, { status: 417 })),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    setCredentials(c) {
      if ('setSecureContext' in server) (server as HttpsServer).setSecureContext({ key: c.keyPem, cert: c.certPem });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections?.();
        setTimeout(() => server.closeAllConnections?.(), 2_000).unref();
      }),
  };
}

/** The checks Node leaves to us, before the app: header count and Host (RFC 9112 §3.2). */
function guarded(handler: RequestListener, limits: ListenerLimits): RequestListener {
  return (req, res) => {
    if (req.rawHeaders.length / 2 > limits.maxHeaderCount) {
      return sendProblem(res, new AcmeProblem('malformed', `the request has more than ${limits.maxHeaderCount} header fields`, { status: 431 }));
    }
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      return sendProblem(res, new AcmeProblem('malformed', 'an HTTP/1.1 request must carry a Host header (RFC 9112 §3.2)'));
    }
    return handler(req, res);
  };
}

function sendProblem(res: ServerResponse, problem: AcmeProblem): void {
  const body = JSON.stringify(problem.toDocument());
  res.writeHead(problem.status, { 'Content-Type': 'application/problem+json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', Connection: 'close' });
  res.end(body);
}

/**
 * Requests Node's parser refused, or that timed out, before any handler ran: headers too large,
 * bytes that are not HTTP, a slow client. The answer is written on the raw socket, which is closed.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // A response already under way (a keep-alive request timing out mid-answer), or a peer already gone.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const problem =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new AcmeProblem('malformed', 'the request line and headers are too large', { status: 431 })
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new AcmeProblem('malformed', 'the request was not received in time', { status: 408 })
        : new AcmeProblem('malformed', 'the request is not valid HTTP/1.1');
  const body = JSON.stringify(problem.toDocument());
  const reason = problem.status === 431 ? 'Request Header Fields Too Large' : problem.status === 408 ? 'Request Timeout' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${problem.status} ${reason}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
  // end() waits for the peer to read; a peer that never reads must not keep the socket.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

const clip = (s: string, n = 100): string => (s.length > n ? `${s.slice(0, n)}…` : s);
