import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';

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
 * Serves the Hono app on a Node http or https server. getRequestListener hands the Node response to
 * the app as c.env.outgoing, which the ACME header middleware needs for one-Link-per-line.
 */
export async function listen(app: Hono<never>, opts: { host: string; port: number; tls: TlsCredentials | null }): Promise<RunningListener> {
  const handler = getRequestListener(app.fetch);
  const server = opts.tls
    ? createHttpsServer({ key: opts.tls.keyPem, cert: opts.tls.certPem, minVersion: 'TLSv1.2' }, handler)
    : createHttpServer(handler);
  // Bounded request handling: slow clients cannot hold sockets forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
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
