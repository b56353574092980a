// The one URL builder (step-ca's "linker"): each resource kind has one route pattern, used both to
// register the route and to build the absolute URLs put in responses. URLs are always built from the
// configured external base URL, never from the Host header (interop item 1, certbot/certbot#7481).
// It is domain, not HTTP (step-ca keeps its linker beside the domain): http/ registers routes from
// it, auth/ checks JWS urls and kids against it, services put its URLs in errors. It imports nothing.

export const ROUTES = {
  directory: '/directory',
  newNonce: '/new-nonce',
  newAccount: '/new-account',
  newOrder: '/new-order',
  revokeCert: '/revoke-cert',
  keyChange: '/key-change',
  renewalInfo: '/renewal-info',
  account: '/acct/:id',
  orders: '/acct/:id/orders',
  order: '/order/:id',
  finalize: '/order/:id/finalize',
  authz: '/authz/:id',
  challenge: '/chall/:id',
  certificate: '/cert/:id',
} as const;

export type RouteKind = keyof typeof ROUTES;

/**
 * The directory configured at the top level (`pca`, `acme`, `policy`), served at <base>/directory.
 * Every other directory is served under its name: <base>/<name>/directory.
 */
export const DEFAULT_DIRECTORY = 'default';

/** Paths the gateway serves outside every directory (http/app.ts operations routes). */
export const OPERATIONS_PATHS = ['/livez', '/readyz', '/metrics'] as const;

/**
 * First path segments a named directory may not take: the default directory's routes and the
 * operations paths live there, and "default" names the default directory itself. config/schema.ts
 * keeps the same list (config imports nothing of ours); a unit test holds the two together.
 */
export const RESERVED_DIRECTORY_NAMES: readonly string[] = [
  DEFAULT_DIRECTORY,
  ...new Set([...Object.values(ROUTES), ...OPERATIONS_PATHS].map((path) => path.split('/')[1]!)),
];

export class Linker {
  /** External base URL without a trailing slash, e.g. https://acme.example.internal:14000 */
  readonly base: string;
  /** Path part of the base URL ('' or '/acme'), prefixed to every route the server registers. */
  readonly basePath: string;

  constructor(externalUrl: string) {
    const url = new URL(externalUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.base = `${url.origin}${this.basePath}`;
  }

  /** '' for the default directory, '/<name>' for a named one (names are checked in config/schema.ts). */
  prefix(directory: string): string {
    return directory === DEFAULT_DIRECTORY ? '' : `/${directory}`;
  }

  /** Route pattern as registered with the router (relative to the listener's root). */
  pattern(kind: RouteKind, directory: string = DEFAULT_DIRECTORY): string {
    return `${this.basePath}${this.prefix(directory)}${ROUTES[kind]}`;
  }

  url(kind: RouteKind, directory: string = DEFAULT_DIRECTORY, id?: string): string {
    let path: string = ROUTES[kind];
    if (path.includes(':id')) {
      if (id === undefined) throw new Error(`route ${kind} needs an id`);
      path = path.replace(':id', encodeURIComponent(id));
    }
    return `${this.base}${this.prefix(directory)}${path}`;
  }

  /** The absolute URL a request was made to, as the client saw it (for the JWS "url" check, RFC 8555 §6.4). */
  requestUrl(pathname: string): string {
    const path = this.basePath && pathname.startsWith(this.basePath) ? pathname.slice(this.basePath.length) : pathname;
    return `${this.base}${path}`;
  }

  /** The id in a resource URL of the given kind, or null when the URL is not one of ours. */
  idFrom(kind: RouteKind, url: string, directory: string = DEFAULT_DIRECTORY): string | null {
    const [head, tail] = ROUTES[kind].split(':id') as [string, string];
    const prefix = `${this.base}${this.prefix(directory)}${head}`;
    if (!url.startsWith(prefix) || !url.endsWith(tail)) return null;
    const id = url.slice(prefix.length, url.length - tail.length);
    return /^[A-Za-z0-9_-]+$/.test(id) ? id : null;
  }
}
