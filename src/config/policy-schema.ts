import { isIP } from 'node:net';
import { z } from 'zod';

// The issuance policy as the configuration file (`policy:`, `directories.<name>.policy:`) and the
// `eab create` flags write it. acme/issuance-policy.ts applies it; this file only checks its shape
// and spells names the way the rules compare them (lower case, no trailing dot). An absent key
// restricts nothing, so an empty policy allows what the gateway allows without one.

const LABEL = '(?!-)[a-z0-9-]{1,63}(?<!-)';
const DNS_NAME = new RegExp(`^${LABEL}(\\.${LABEL})*$`);

/** Lower case, no trailing dot: the form every rule compares (RFC 4343: DNS names are case-insensitive). */
const lowerName = (s: string) => s.trim().toLowerCase().replace(/\.$/, '');

/** "payments.corp.test" (a leading "." is the same suffix): a name must equal it or end in ".<suffix>". */
const dnsSuffix = z
  .string()
  .transform((s) => lowerName(s).replace(/^\./, ''))
  .pipe(z.string().regex(DNS_NAME, 'expected a DNS suffix, e.g. "payments.corp.test"'));

/** An exact DNS name; "*.apps.corp.test" names that wildcard exactly. */
const dnsNameOrWildcard = z
  .string()
  .transform(lowerName)
  .pipe(z.string().refine((s) => DNS_NAME.test(s.startsWith('*.') ? s.slice(2) : s), 'expected a DNS name, e.g. "api.corp.test" or "*.apps.corp.test"'));

/** An exact name ("*.x" is that wildcard), or ".internal.corp" for that name and everything under it. */
const deniedName = z
  .string()
  .transform(lowerName)
  .pipe(
    z.string().refine((s) => DNS_NAME.test(s.replace(/^(\*)?\./, '')), 'expected a DNS name ("admin.corp.test", "*.corp.test") or a suffix (".internal.corp.test")'),
  );

/** "10.20.0.0/16", "fd00::/8" or a bare address; acme/cidr.ts parses it again when the rules are built. */
export const cidrRange = z.string().refine(
  (text) => {
    const [addr = '', prefix, extra] = text.trim().split('/');
    const family = isIP(addr);
    if (family === 0 || extra !== undefined || addr.includes('%')) return false;
    return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
  },
  { message: 'expected an IP address or CIDR range, e.g. "10.20.0.0/16" or "fd00::/8"' },
);

/** The key types the gateway signs for (acme/csr.ts KeyType): RSA sizes are part of the name. */
export const KEY_TYPES = ['rsa2048', 'rsa3072', 'rsa4096', 'ecdsa-p256', 'ecdsa-p384'] as const;
export const CHALLENGE_TYPES = ['http-01', 'dns-01', 'tls-alpn-01'] as const;

export const issuancePolicySchema = z
  .object({
    /** DNS names must equal one of these or end in ".<suffix>" (unless listed in allowedNames). */
    allowedSuffixes: z.array(dnsSuffix).max(1000).optional(),
    /** Exact DNS names allowed besides the suffixes ("*.x" allows exactly that wildcard). */
    allowedNames: z.array(dnsNameOrWildcard).max(1000).optional(),
    /** Refused whatever else allows them; ".x" refuses x and everything under it; a wildcard covering one is refused too. */
    deniedNames: z.array(deniedName).max(1000).optional(),
    /** IP identifiers (RFC 8738) must be in one of these ranges; [] refuses every IP identifier. */
    allowedIpCidrs: z.array(cidrRange).max(1000).optional(),
    /** false: no wildcard identifiers (RFC 8555 §7.1.3 "*."). */
    wildcards: z.boolean().optional(),
    /** At most this many identifiers in one order. */
    maxIdentifiers: z.number().int().min(1).max(100).optional(),
    /** Challenge types newOrder offers (RFC 8555 §8); an identifier none of them can validate is refused. */
    allowedChallenges: z.array(z.enum(CHALLENGE_TYPES)).min(1).optional(),
    /** CSR key types accepted at finalize. */
    keyTypes: z.array(z.enum(KEY_TYPES)).min(1).optional(),
    /** RSA keys shorter than this are refused at finalize. */
    minRsaBits: z.union([z.literal(2048), z.literal(3072), z.literal(4096)]).optional(),
    /** The longest validity, in days: a later notAfter is refused, and the PCA is asked for no more. */
    maxValidityDays: z.number().int().min(1).max(3650).optional(),
    /**
     * Directory only (an EAB key's rules never set it): true lets the pre-authorized scopes of an
     * account's EAB key make its new authorizations valid with no challenge (acme/preauthorization.ts).
     * Off by default: without it the scopes are ignored.
     */
    preAuthorization: z.boolean().optional(),
  })
  .strict();

/**
 * An EAB key's pre-authorized scopes (`eab create --preauthorize-…`), spelled the way the issuance
 * policy spells names: exact names ("*.x" that wildcard), suffixes, IP ranges.
 */
export const preauthorizedScopesSchema = z
  .object({
    names: z.array(dnsNameOrWildcard).max(1000).optional(),
    suffixes: z.array(dnsSuffix).max(1000).optional(),
    cidrs: z.array(cidrRange).max(1000).optional(),
  })
  .strict();

export type IssuancePolicyConfig = z.infer<typeof issuancePolicySchema>;

/**
 * A named directory is served at <externalUrl>/<name>/directory, so its name is one path segment:
 * lower-case letters, digits and inner hyphens. acme/links.ts RESERVED_DIRECTORY_NAMES holds the
 * first segments of the default directory's routes and the operations paths; this list must equal
 * it (config imports nothing of ours; src/config/load.test.ts compares them).
 */
export const DIRECTORY_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const RESERVED_DIRECTORY_NAMES: readonly string[] = [
  'default',
  'directory',
  'new-nonce',
  'new-account',
  'new-order',
  'revoke-cert',
  'key-change',
  'renewal-info',
  'acct',
  'order',
  'authz',
  'chall',
  'cert',
  'livez',
  'readyz',
  'metrics',
];

/** Why `name` cannot name a directory, or null. */
export function directoryNameProblem(name: string): string | null {
  if (!DIRECTORY_NAME.test(name)) return `directory name "${name}" must be 1-63 lower-case letters, digits or inner "-" (it is a path segment of the URL)`;
  if (RESERVED_DIRECTORY_NAMES.includes(name)) return `directory name "${name}" is taken by a route of the gateway (reserved: ${RESERVED_DIRECTORY_NAMES.join(', ')})`;
  return null;
}

/**
 * A caTag of the embedded simulator beside its default CA becomes a folder of simulator.dataDir
 * (pca/simulator/index.ts extraCaTagProblem says the same at start).
 */
const SIMULATOR_TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SIMULATOR_RESERVED = ['ca', 'ca-tag', 'root.pem', 'issued.jsonl'];
export function simulatorTagProblem(tag: string): string | null {
  if (!SIMULATOR_TAG.test(tag)) return `caTag "${tag}" must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`;
  if (SIMULATOR_RESERVED.includes(tag.toLowerCase())) return `caTag "${tag}" is the name of a file of simulator.dataDir`;
  return null;
}
