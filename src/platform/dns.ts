import { lookup as dnsLookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

// The DNS resolver the validation authority uses (RFC 8555 §8.3/§8.4 lookups). It talks to the
// configured recursive resolvers (or the system ones) through c-ares, never through getaddrinfo,
// so /etc/hosts and nsswitch play no part in what a challenge sees. Split-horizon networks give a
// zone its own servers (validation.dnsResolversByZone): the longest zone that contains a name
// decides which servers answer for it, for every record type (A/AAAA, TXT, CAA).

export type DnsErrorKind =
  /** NXDOMAIN: the name does not exist. */
  | 'nxdomain'
  /** NOERROR but no record of the asked type. */
  | 'nodata'
  /** SERVFAIL, or an answer c-ares could not use (FORMERR, bad response). */
  | 'servfail'
  /** The server refused the query, or the resolver could not reach it. */
  | 'refused'
  /** No answer within the time allowed. */
  | 'timeout'
  /** The caller's AbortSignal fired. */
  | 'aborted'
  | 'other';

/** A failed lookup, typed so that checkers can choose the right ACME problem (`dns` vs `unauthorized`). */
export class DnsError extends Error {
  constructor(
    readonly kind: DnsErrorKind,
    readonly rrtype: 'A' | 'AAAA' | 'TXT' | 'CAA' | 'A/AAAA',
    readonly hostname: string,
    /** The c-ares code (ENOTFOUND, ESERVFAIL, ...) when there was one. */
    readonly code?: string,
  ) {
    super(`DNS ${describeKind(kind)} looking up ${rrtype} for ${hostname}`);
    this.name = 'DnsError';
  }
}

function describeKind(kind: DnsErrorKind): string {
  switch (kind) {
    case 'nxdomain':
      return 'NXDOMAIN (name does not exist)';
    case 'nodata':
      return 'no records';
    case 'servfail':
      return 'SERVFAIL';
    case 'refused':
      return 'query refused or server unreachable';
    case 'timeout':
      return 'timeout';
    case 'aborted':
      return 'lookup aborted';
    case 'other':
      return 'error';
  }
}

export interface DnsLookupOptions {
  signal?: AbortSignal;
}

/** One CAA resource record (RFC 8659 §4.1). */
export interface CaaRecord {
  /** The flags octet; 128 is the Issuer Critical Flag. */
  flags: number;
  /** As received; tags compare case-insensitively (RFC 8659 §4.1). */
  tag: string;
  value: string;
}

export interface DnsResolver {
  /** A then AAAA records, IPv4 addresses first. An IP literal resolves to itself. */
  resolveAddresses(name: string, options?: DnsLookupOptions): Promise<string[]>;
  /** TXT records, each record's character-strings joined (RFC 7208 §3.3 style). */
  resolveTxt(name: string, options?: DnsLookupOptions): Promise<string[]>;
  /** CAA records of exactly this name (CNAMEs followed by the server); NODATA is a DnsError. */
  resolveCaa(name: string, options?: DnsLookupOptions): Promise<CaaRecord[]>;
  /** The servers queried for names outside every configured zone, as "host:port". */
  readonly servers: string[];
  /** The servers queried for `name` (its zone's, or `servers`), for validation records and logs. */
  serversFor(name: string): string[];
}

export interface DnsResolverOptions {
  /** "host:port", "host", "[v6]:port"; an empty list means the system's resolvers (/etc/resolv.conf). */
  servers: string[];
  /** Zone → servers for split-horizon DNS; the longest zone equal to or above a name wins. */
  serversByZone?: Readonly<Record<string, readonly string[]>>;
  /** Hard limit for one lookup, retries included. Default 5000 ms. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5_000;
/** Idle c-ares channels kept per server list for reuse. */
const IDLE_CHANNELS = 16;

export function createDnsResolver(opts: DnsResolverOptions): DnsResolver {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new Error('dns timeoutMs must be positive');
  const fallback = serverSet(opts.servers, timeoutMs, true);
  const zones = Object.entries(opts.serversByZone ?? {}).map(([zone, servers]) => {
    if (servers.length === 0) throw new Error(`dns zone ${zone}: no servers`);
    return { zone: normalizeName(zone), resolver: serverSet([...servers], timeoutMs, false) };
  });
  // Longest zone first, so the first match is the most specific.
  zones.sort((a, b) => b.zone.length - a.zone.length);
  const pick = (name: string): DnsResolver => {
    const n = normalizeName(name);
    return zones.find(({ zone }) => n === zone || n.endsWith(`.${zone}`))?.resolver ?? fallback;
  };
  return {
    servers: fallback.servers,
    serversFor: (name) => pick(name).servers,
    resolveAddresses: (name, options) => pick(name).resolveAddresses(name, options),
    resolveTxt: (name, options) => pick(name).resolveTxt(name, options),
    resolveCaa: (name, options) => pick(name).resolveCaa(name, options),
  };
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * The resolver of one server list. `system`: an empty list means the host's resolvers, and for
 * addresses getaddrinfo first (what every other program on the host sees).
 */
function serverSet(configured: string[], timeoutMs: number, system: boolean): DnsResolver {
  // Built once up front so that a bad server string fails at start-up, not at the first challenge.
  const servers = newResolver(configured, timeoutMs).getServers();

  /**
   * One c-ares channel per lookup at a time: cancel() aborts every query on a channel, so a shared
   * channel would let one validation's timeout or abort cancel another's queries. A channel whose
   * lookup ended without a cancel goes back to a small pool for the next lookup: making one (and its
   * socket) was a sixth of a lookup's cost (issue 11). Node's c-ares keeps no answer cache, so a reused
   * channel asks the server again every time (src/platform/dns.test.ts).
   */
  const idle: Resolver[] = [];
  const take = (): Resolver => idle.pop() ?? newResolver(configured, timeoutMs);
  const giveBack = (resolver: Resolver): void => {
    if (idle.length < IDLE_CHANNELS) idle.push(resolver);
  };

  async function lookup<T>(
    rrtype: DnsError['rrtype'],
    name: string,
    signal: AbortSignal | undefined,
    run: (resolver: Resolver) => Promise<T>,
  ): Promise<T> {
    if (signal?.aborted) throw new DnsError('aborted', rrtype, name);
    const resolver = take();
    let reason: 'timeout' | 'aborted' | undefined;
    const cancel = (why: 'timeout' | 'aborted') => {
      reason ??= why;
      resolver.cancel();
    };
    const timer = setTimeout(() => cancel('timeout'), timeoutMs);
    const onAbort = () => cancel('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await run(resolver);
    } catch (err) {
      if (reason) throw new DnsError(reason, rrtype, name, (err as { code?: string }).code);
      throw toDnsError(err, rrtype, name);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (!reason) giveBack(resolver);
    }
  }

  return {
    servers,
    serversFor: () => servers,

    async resolveAddresses(name, options = {}) {
      if (isIP(name)) return [name];
      const host = name;
      if (system && configured.length === 0) {
        // "System resolver" means what every other program on the host sees: getaddrinfo, which
        // also reads /etc/hosts. Fall back to plain DNS queries when it finds nothing.
        const viaHosts = await systemLookup(host, timeoutMs);
        if (viaHosts.length > 0) return viaHosts;
      }
      const [v4, v6] = await Promise.allSettled([
        lookup('A', host, options.signal, (r) => r.resolve4(host)),
        lookup('AAAA', host, options.signal, (r) => r.resolve6(host)),
      ]);
      const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
      if (addresses.length > 0) return [...new Set(addresses)];
      throw mergeAddressErrors(host, v4, v6);
    },

    async resolveTxt(name, options = {}) {
      const records = await lookup('TXT', name, options.signal, (r) => r.resolveTxt(name));
      if (records.length === 0) throw new DnsError('nodata', 'TXT', name);
      return records.map((chunks) => chunks.join(''));
    },

    async resolveCaa(name, options = {}) {
      const records = await lookup('CAA', name, options.signal, (r) => r.resolveCaa(name));
      if (records.length === 0) throw new DnsError('nodata', 'CAA', name);
      return records.map(caaRecordOf);
    },
  };
}

/**
 * c-ares hands a CAA record back as { critical: flags, <tag>: value }. A record whose tag is itself
 * "critical" overwrites the flags with its value; it is returned as critical, so that the checker
 * refuses rather than guesses (RFC 8659 §4.1: an unknown critical tag forbids issuance).
 */
function caaRecordOf(answer: object): CaaRecord {
  const raw = answer as Record<string, unknown>;
  const entries = Object.entries(raw).filter(([key]) => key !== 'critical');
  if (typeof raw.critical !== 'number') return { flags: 128, tag: 'critical', value: String(raw.critical) };
  const [tag, value] = entries[0] ?? ['', ''];
  return { flags: raw.critical, tag, value: String(value) };
}

async function systemLookup(host: string, timeoutMs: number): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const found = await Promise.race([
      dnsLookup(host, { all: true, order: 'ipv4first' }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
    return [...new Set(found.map((a) => a.address))];
  } catch {
    return [];
  } finally {
    clearTimeout(timer);
  }
}

function newResolver(servers: string[], timeoutMs: number): Resolver {
  // c-ares doubles the per-try timeout on each retry: t + 2t fits within the hard limit.
  const resolver = new Resolver({ timeout: Math.max(50, Math.floor(timeoutMs / 3)), tries: 2 });
  if (servers.length > 0) resolver.setServers(servers);
  return resolver;
}

function toDnsError(err: unknown, rrtype: DnsError['rrtype'], name: string): DnsError {
  const code = (err as { code?: unknown })?.code;
  const c = typeof code === 'string' ? code : undefined;
  return new DnsError(kindOfCode(c), rrtype, name, c);
}

function kindOfCode(code: string | undefined): DnsErrorKind {
  switch (code) {
    case 'ENOTFOUND':
      return 'nxdomain';
    case 'ENODATA':
      return 'nodata';
    case 'ESERVFAIL':
    case 'EFORMERR':
    case 'EBADRESP':
    case 'ENOTIMP':
      return 'servfail';
    case 'EREFUSED':
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEOUT':
      return 'timeout';
    case 'ECANCELLED':
      return 'aborted';
    default:
      return 'other';
  }
}

/** Both A and AAAA failed: report the error that best explains why there is no address. */
function mergeAddressErrors(name: string, ...results: PromiseSettledResult<string[]>[]): DnsError {
  const errors = results.map((r) =>
    r.status === 'rejected' ? (r.reason instanceof DnsError ? r.reason : toDnsError(r.reason, 'A/AAAA', name)) : new DnsError('nodata', 'A/AAAA', name),
  );
  // A real failure (timeout, SERVFAIL, abort) matters more than an empty answer for the other type.
  const hard = errors.find((e) => e.kind !== 'nxdomain' && e.kind !== 'nodata');
  if (hard) return new DnsError(hard.kind, 'A/AAAA', name, hard.code);
  const kind = errors.every((e) => e.kind === 'nxdomain') ? 'nxdomain' : 'nodata';
  return new DnsError(kind, 'A/AAAA', name, errors[0]?.code);
}
