import { isIP } from 'node:net';
import { z } from 'zod';
import { directoryNameProblem, issuancePolicySchema, KEY_TYPES, simulatorTagProblem } from './policy-schema.js';
import { simulatorBehaviourSchema } from './simulator-schema.js';
import { adminSchema, notificationsSchema } from './ops-schema.js';
import { rateLimitsSchema } from './rate-limits-schema.js';

// The configuration file's shape. Every key has a default so that an empty file (or none) runs the
// gateway on its embedded defaults: a SQLite file under ./data and the built-in PCA simulator.

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected "host:port", e.g. "127.0.0.1:14000"');

/** A DNS server: "host:port" or a bare address (port 53). */
const dnsServer = hostPort.or(z.string().regex(/^[0-9a-fA-F:.]+$/));

/** "10.0.0.0/8", "fd00::/8" or a bare address; checked again, with the reason, by acme/cidr.ts. */
const cidrText = z.string().refine(
  (text) => {
    const [addr = '', prefix, extra] = text.trim().split('/');
    const family = isIP(addr);
    if (family === 0 || extra !== undefined) return false;
    return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
  },
  { message: 'expected an IP address or CIDR range, e.g. "10.20.0.0/16" or "fd00::/8"' },
);

/** A DNS name as RFC 8659 §4.2 writes an issuer-domain-name or a zone: letters, digits, hyphens. */
const domainName = z
  .string()
  .transform((s) => s.toLowerCase().replace(/\.$/, ''))
  .pipe(z.string().regex(/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/, 'expected a DNS name, e.g. "corp.internal"'));

const tlsSchema = z
  .object({
    mode: z.enum(['pca', 'files', 'none']).default('pca'),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    /** mode pca: renew the serving certificate when this fraction of its lifetime has passed. */
    renewAtFraction: z.number().gt(0).lt(1).default(2 / 3),
  })
  .strict()
  .refine((t) => t.mode !== 'files' || (t.certFile && t.keyFile), {
    message: 'tls.mode "files" needs tls.certFile and tls.keyFile',
  });

export const DEFAULT_SQLITE_PATH = './data/gateway.sqlite';

/**
 * Where the state lives: a SQLite file (the default, one gateway process), or a PostgreSQL database
 * that several replicas share. The password may sit in the URL, in postgresPassword (or the
 * PGPASSWORD environment variable, config/load.ts), or in a file (postgresPasswordFile).
 */
const storageSchema = z
  .object({
    sqlite: z.string().min(1).optional(),
    postgres: z
      .string()
      .regex(/^postgres(ql)?:\/\/[^/?#]+/, 'expected a URL like postgres://user@host:5432/database')
      .refine((u) => URL.canParse(u), 'not a valid URL')
      .optional(),
    postgresPassword: z.string().min(1).optional(),
    postgresPasswordFile: z.string().min(1).optional(),
    /** Most connections one gateway process opens; tryExclusive keeps one while it runs, so at least 2. */
    poolSize: z.number().int().min(2).max(500).default(10),
    /** The server ends any one statement that runs longer (a stuck lock, a runaway query). */
    statementTimeoutMs: z.number().int().min(100).max(10 * 60_000).default(5_000),
    /** How long to wait for a connection to the database, new or from the pool. */
    connectTimeoutMs: z.number().int().min(100).max(120_000).default(5_000),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.sqlite && s.postgres) ctx.addIssue({ code: 'custom', path: ['postgres'], message: 'storage.sqlite and storage.postgres name two databases: keep one' });
    if (s.postgresPassword && s.postgresPasswordFile) {
      ctx.addIssue({ code: 'custom', path: ['postgresPasswordFile'], message: 'give the PostgreSQL password once: postgresPassword or postgresPasswordFile' });
    }
    if ((s.postgresPassword || s.postgresPasswordFile) && !s.postgres) {
      ctx.addIssue({ code: 'custom', path: ['postgres'], message: 'a PostgreSQL password is set but storage.postgres is not' });
    }
    if (s.postgres && URL.canParse(s.postgres) && new URL(s.postgres).password && (s.postgresPassword || s.postgresPasswordFile)) {
      ctx.addIssue({ code: 'custom', path: ['postgres'], message: 'the URL has a password and postgresPassword(File) gives another: keep one' });
    }
  })
  // The SQLite path is filled in only when PostgreSQL is not chosen: one database, never two.
  .transform((s) => ({ ...s, sqlite: s.postgres ? undefined : (s.sqlite ?? DEFAULT_SQLITE_PATH) }));

const profileSchema = z
  .object({
    description: z.string().default(''),
    period: z.number().int().min(1).max(3650).optional(),
    keyTypes: z.array(z.enum(KEY_TYPES)).optional(),
  })
  .strict();

/** A PCA target: the top-level `pca` (the default directory) and each `directories.<name>.pca`. */
const pcaSchema = z
  .object({
    kind: z.enum(['simulator', 'ncp']).default('simulator'),
    endpoint: z.url().optional(),
    caTag: z.string().optional(),
    accessKey: z.string().optional(),
    secretKey: z.string().optional(),
    /** Default validity in days, sent as the sign call's `period`. */
    period: z.number().int().min(1).max(3650).default(90),
    timeoutMs: z.number().int().min(100).max(120_000).default(30_000),
    /** PEM file of the root the issued chains must verify to; default: the PCA's own chain. */
    trustAnchorFile: z.string().optional(),
    /** Extra CA PEM to trust when calling an https PCA endpoint. */
    caFile: z.string().optional(),
    maxConcurrentCalls: z.number().int().min(1).max(256).default(8),
    /** Issuance jobs running at once (each holds at most one PCA call); validation.concurrency is separate. */
    issuanceConcurrency: z.number().int().min(1).max(256).default(8),
    /** Consecutive failed PCA calls that open the circuit breaker, and how long it stays open. */
    breakerThreshold: z.number().int().min(1).max(1000).default(5),
    breakerCooldownMs: z.number().int().min(100).max(10 * 60_000).default(30_000),
    /** How often the audit compares the PCA's list with the database (0 = never). */
    auditIntervalMs: z.number().int().min(0).default(15 * 60_000),
    /**
     * Issue 10: the CSR keys the CA signs: "ca" (its own key type only, as NAVER's issuer assumes) or
     * a list. Default: "ca" for ncp; for the embedded simulator, what its keyRule signs.
     */
    keyTypes: z.union([z.literal('ca'), z.array(z.enum(KEY_TYPES)).min(1)]).optional(),
    /** How often the CA is read again (Get CA: its status, end and key). */
    caRefreshMs: z.number().int().min(1_000).max(24 * 3_600_000).default(5 * 60_000),
    /** Publish the CRL right after a revocation (POST /crl/rotate), unless the PCA refuses it. */
    rotateCrlAfterRevoke: z.boolean().default(true),
    /** Total time an order may spend retrying the PCA before it ends invalid. */
    issuanceDeadlineMs: z.number().int().min(1000).default(10 * 60_000),
  })
  .strict();

/** Gateway-wide settings of the top-level pca that a directory's pca does not take (one job runner, one queue). */
const directoryPcaSchema = pcaSchema.omit({ issuanceConcurrency: true, issuanceDeadlineMs: true });

/**
 * A named directory (issue 9): served at <externalUrl>/<name>/directory, with its own PCA target
 * and issuance policy; its accounts, orders and EAB keys are its own. `acme` keys left out are the
 * top-level's.
 */
const directorySchema = z
  .object({
    pca: directoryPcaSchema.prefault({}),
    policy: issuancePolicySchema.prefault({}),
    /** This directory's rate limits (config/rate-limits-schema.ts); a key left out is the default, not the top level's. */
    rateLimits: rateLimitsSchema.prefault({}),
    acme: z
      .object({
        externalAccountRequired: z.boolean().optional(),
        termsOfService: z.url().optional(),
        website: z.url().optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        listen: hostPort.default('127.0.0.1:14000'),
        externalUrl: z.url().default('https://localhost:14000'),
        tls: tlsSchema.prefault({}),
        /** Largest request body accepted, in bytes (RSA-8192 keys and CSRs fit in a few KB). */
        maxBodyBytes: z.number().int().min(1024).max(1024 * 1024).default(64 * 1024),
        /** How long a finalize request waits for the PCA before answering "processing". */
        finalizeWaitMs: z.number().int().min(0).max(25_000).default(5_000),
        /** How long a challenge POST waits for its validation before answering "processing". */
        challengeWaitMs: z.number().int().min(0).max(25_000).default(2_000),
        /**
         * The client address of newAccountsPerIp from the last X-Forwarded-For entry instead of the
         * socket. Only behind a proxy that appends it: otherwise every client names its own address.
         */
        trustProxyHeaders: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    storage: storageSchema.prefault({}),
    acme: z
      .object({
        termsOfService: z.url().optional(),
        website: z.url().optional(),
        externalAccountRequired: z.boolean().default(false),
        /** Key-encryption key for stored EAB HMAC keys; default: eab-kek.key beside the SQLite file. */
        eabKekFile: z.string().optional(),
        orderLifetimeSeconds: z.number().int().min(60).default(7 * 24 * 3600),
        authorizationLifetimeSeconds: z.number().int().min(60).default(7 * 24 * 3600),
        nonceLifetimeSeconds: z.number().int().min(60).default(3600),
        profiles: z.record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), profileSchema).default({}),
        defaultProfile: z.string().optional(),
      })
      .strict()
      .prefault({}),
    validation: z
      .object({
        httpPort: z.number().int().min(1).max(65535).default(80),
        tlsAlpnPort: z.number().int().min(1).max(65535).default(443),
        /** Servers for every name outside dnsResolversByZone; empty = the system resolver. */
        dnsResolvers: z.array(dnsServer).default([]),
        /** Split-horizon DNS: zone → servers, for A/AAAA/TXT/CAA of names in it (longest zone wins). */
        dnsResolversByZone: z.record(domainName, z.array(dnsServer).min(1)).default({}),
        timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
        concurrency: z.number().int().min(1).max(256).default(16),
        /** Added to the default-allowed ranges of the validator's address policy (acme/address-policy.ts). */
        allowedCidrs: z.array(cidrText).default([]),
        /** Added to the default-denied ranges (loopback, link-local, metadata, unspecified, multicast). */
        deniedCidrs: z.array(cidrText).default([]),
      })
      .strict()
      .prefault({}),
    /**
     * CAA (RFC 8659, RFC 8657), off unless set: the issuer domain names this gateway answers to in
     * `issue` / `issuewild` records, and how old an authorization's check may be at finalize before
     * it is done again (CA/Browser Forum Baseline Requirements §3.2.2.8: within 8 hours of issuance).
     */
    caa: z
      .object({
        issuerDomains: z.array(domainName).min(1),
        recheckAfterSeconds: z.number().int().min(0).default(8 * 3600),
      })
      .strict()
      .optional(),
    pca: pcaSchema.prefault({}),
    /** The default directory's issuance policy (acme/issuance-policy.ts); {} allows what the gateway allows. */
    policy: issuancePolicySchema.prefault({}),
    /** The default directory's rate limits (RFC 8555 §6.6; acme/rate-limits.ts); 0 turns one off. */
    rateLimits: rateLimitsSchema.prefault({}),
    /** More directories, by name (acme/links.ts: <externalUrl>/<name>/directory). */
    directories: z.record(z.string(), directorySchema).default({}),
    simulator: z
      .object({
        listen: hostPort.default('127.0.0.1:14001'),
        dataDir: z.string().default('./data/pca-simulator'),
        tiers: z.union([z.literal(1), z.literal(2)]).default(2),
        /** Issue 10: the embedded simulator's switchable behaviours (config/simulator-schema.ts). */
        behaviour: simulatorBehaviourSchema.default({}),
        /** Run the simulator on a thread of its own (the second core); false: on the gateway's event loop. */
        thread: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    logging: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** auto: readable lines when stdout is a terminal, JSON otherwise. */
        format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      })
      .strict()
      .prefault({}),
    admin: adminSchema,
    notifications: notificationsSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.pca.kind === 'ncp') {
      for (const key of ['endpoint', 'caTag', 'accessKey', 'secretKey'] as const) {
        if (!c.pca[key]) {
          ctx.addIssue({
            code: 'custom',
            path: ['pca', key],
            message:
              key === 'accessKey' || key === 'secretKey'
                ? `pca.kind "ncp" needs pca.${key} (or pca.${key}File, or env ${key === 'accessKey' ? 'NCP_ACCESS_KEY' : 'NCP_SECRET_KEY'})`
                : `pca.kind "ncp" needs pca.${key}`,
          });
        }
      }
    }
    const profiles = Object.keys(c.acme.profiles);
    if (c.acme.defaultProfile && !profiles.includes(c.acme.defaultProfile)) {
      ctx.addIssue({ code: 'custom', path: ['acme', 'defaultProfile'], message: `no profile named "${c.acme.defaultProfile}"` });
    }
    const url = new URL(c.server.externalUrl);
    if (url.search || url.hash) {
      ctx.addIssue({ code: 'custom', path: ['server', 'externalUrl'], message: 'must not have a query or fragment' });
    }
    checkDirectories(c, ctx);
  })
  .transform(completeDirectories);

/** What the directory checks read: the top-level pca and the named directories, as parsed. */
type ParsedTargets = { pca: z.output<typeof pcaSchema>; directories: Record<string, z.output<typeof directorySchema>> };

/** Names, and what each kind of PCA target needs; credentials of an ncp directory may be the top-level pca's. */
function checkDirectories(c: ParsedTargets, ctx: z.RefinementCtx): void {
  for (const [name, d] of Object.entries(c.directories)) {
    const at = (...path: string[]) => ['directories', name, ...path];
    const nameProblem = directoryNameProblem(name);
    if (nameProblem) ctx.addIssue({ code: 'custom', path: at(), message: nameProblem });
    if (d.pca.kind === 'simulator') {
      const tagProblem = simulatorTagProblem(d.pca.caTag ?? name);
      if (tagProblem) ctx.addIssue({ code: 'custom', path: at('pca', 'caTag'), message: tagProblem });
      continue;
    }
    for (const key of ['endpoint', 'caTag'] as const) {
      if (!d.pca[key]) ctx.addIssue({ code: 'custom', path: at('pca', key), message: `pca.kind "ncp" needs directories.${name}.pca.${key}` });
    }
    for (const key of ['accessKey', 'secretKey'] as const) {
      if (!d.pca[key] && !c.pca[key]) {
        ctx.addIssue({ code: 'custom', path: at('pca', key), message: `pca.kind "ncp" needs directories.${name}.pca.${key} or the top-level pca.${key}` });
      }
    }
  }
}

/**
 * Fills what a directory leaves to the defaults, so every reader sees a complete target: a simulator
 * directory without a caTag gets its own CA tagged with its name; an ncp directory without
 * credentials uses the top-level pca's (which may come from NCP_ACCESS_KEY / NCP_SECRET_KEY).
 */
function completeDirectories<C extends ParsedTargets>(c: C): C {
  const directories = Object.fromEntries(
    Object.entries(c.directories).map(([name, d]) => {
      const pca =
        d.pca.kind === 'simulator'
          ? { ...d.pca, caTag: d.pca.caTag ?? name }
          : { ...d.pca, accessKey: d.pca.accessKey ?? c.pca.accessKey, secretKey: d.pca.secretKey ?? c.pca.secretKey };
      return [name, { ...d, pca }];
    }),
  );
  return { ...c, directories };
}

export type GatewayConfig = z.infer<typeof configSchema>;
/** One named directory's configuration. */
export type DirectoryConfig = GatewayConfig['directories'][string];
/** A PCA target as a directory has it (the top-level pca has two more, gateway-wide, keys). */
export type PcaTargetConfig = DirectoryConfig['pca'];
