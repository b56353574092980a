import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { GatewayConfig } from '../config/schema.js';
import { buildGateway, type GatewayDirectory } from '../deps.js';
import { listen, type TlsCredentials } from '../http/listener.js';
import { splitListenAddress } from '../platform/listen.js';
import { adminTokenPath } from '../config/paths.js';

/** `acme-pca-gateway serve`: the ACME server until SIGTERM/SIGINT, then a graceful shutdown. */
export async function serve(config: GatewayConfig): Promise<void> {
  const gw = await buildGateway(config);
  const { logger } = gw;
  const { host, port } = splitListenAddress(config.server.listen);
  const external = new URL(config.server.externalUrl);

  let tls: TlsCredentials | null = null;
  const certs = gw.servingCertificate;
  if (config.server.tls.mode === 'files') {
    tls = { certPem: readFileSync(config.server.tls.certFile!, 'utf8'), keyPem: readFileSync(config.server.tls.keyFile!, 'utf8') };
  } else if (certs) {
    try {
      tls = await certs.init();
    } catch (err) {
      await gw.close();
      throw new Error(
        `tls.mode pca: cannot get the gateway's own certificate from the PCA (${(err as Error).message}); check the pca settings, or use tls.mode files/none`,
      );
    }
  }
  if (tls && external.protocol !== 'https:') logger.warn('server.tls serves HTTPS but server.externalUrl is http://');
  if (!tls && external.protocol === 'https:') logger.info('tls.mode none: expecting a TLS proxy in front for the https externalUrl');

  // The admin listener first: its /readyz answers (503) while the ACME listener comes up.
  const adminAddress = splitListenAddress(config.admin.listen);
  let adminListener;
  try {
    adminListener = await listen(gw.admin.app as never, { host: adminAddress.host, port: adminAddress.port, tls: null });
  } catch (err) {
    await gw.close();
    throw new Error(`admin.listen ${config.admin.listen}: ${(err as Error).message}`);
  }
  const token = gw.admin.token;
  logger.info(
    { listen: `${adminAddress.host}:${adminListener.port}`, token: token.source === 'environment' ? 'from ACME_ADMIN_TOKEN' : `${token.source === 'created' ? 'created in' : 'read from'} ${token.path}` },
    'admin listener started (/livez, /readyz; with the token: /metrics, the console at /, /api)',
  );
  let listener;
  try {
    listener = await listen(gw.app as never, { host, port, tls });
  } catch (err) {
    await adminListener.close();
    await gw.close();
    throw new Error(`server.listen ${config.server.listen}: ${(err as Error).message}`);
  }
  certs?.scheduleRenewal((c) => listener.setCredentials(c));
  printBanner(gw.config, gw.directories, listener.port, adminListener.port);
  logger.info({ listen: `${host}:${listener.port}`, tls: config.server.tls.mode }, 'gateway started');

  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down: no new requests; finishing in-flight jobs');
      // Requests waiting for a job answer with where it stands (processing); the client polls
      // again, and another replica or the restarted gateway answers it.
      gw.stopWaiting();
      done();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await listener.close();
  await adminListener.close();
  await gw.close();
  logger.info('stopped');
}

/**
 * What a person needs to start: every directory URL with where it issues from and the root its
 * certificates chain to (issue 9), the root the gateway's own HTTPS chains to, and a certbot line.
 */
function printBanner(config: GatewayConfig, directories: GatewayDirectory[], port: number, adminPort: number): void {
  const rootOf = (d: GatewayDirectory) => (d.rootPemPath ? resolve(d.rootPemPath) : '(the root of your Private CA)');
  const main = directories[0]!;
  // tls.mode pca: the listener's certificate comes from the default directory's PCA.
  const httpsRoot = config.server.tls.mode === 'pca' ? rootOf(main) : config.server.tls.mode === 'files' ? '(the issuer of server.tls.certFile)' : null;
  const httpPort = config.validation.httpPort;
  const width = Math.max(...directories.map((d) => d.name.length));
  const lines = [
    '',
    'acme-pca-gateway is running',
    `  listening on:    ${config.server.listen.replace(/:\d+$/, `:${port}`)} (tls: ${config.server.tls.mode})`,
    ...(httpsRoot ? [`  HTTPS trust:     ${httpsRoot} (what clients need to reach every directory)`] : []),
    `  database:        ${describeDatabase(config)}`,
    `  admin/console:   http://${config.admin.listen.replace(/:\d+$/, `:${adminPort}`)}/ (token: ${config.admin.token ? 'ACME_ADMIN_TOKEN' : adminTokenPath(config)})`,
    '',
    directories.length > 1 ? 'ACME directories:' : 'ACME directory:',
    ...directories.flatMap((d) => [
      `  ${d.name.padEnd(width)}  ${d.url}`,
      `  ${' '.repeat(width)}    issues from:     ${d.pcaDescription}`,
      `  ${' '.repeat(width)}    trust this root: ${rootOf(d)}`,
    ]),
    '',
    'Get a certificate with certbot (http-01 is checked on port ' + httpPort + ' of the name you ask for):',
    `  sudo REQUESTS_CA_BUNDLE=${httpsRoot ?? rootOf(main)} certbot certonly --standalone \\`,
    `    --server ${main.url} \\`,
    `    --http-01-port ${httpPort} -d ${config.validation.dnsResolvers.length ? '<a name your DNS points at this host>' : 'localhost'} \\`,
    '    --register-unsafely-without-email --agree-tos',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/** The database for the banner: the SQLite file, or the PostgreSQL URL without its password. */
export function describeDatabase(config: GatewayConfig): string {
  if (!config.storage.postgres) return resolve(config.storage.sqlite!);
  const url = new URL(config.storage.postgres);
  url.password = '';
  url.searchParams.delete('password');
  return `PostgreSQL ${url.toString()}`;
}
