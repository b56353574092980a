import { z } from 'zod';

// The configuration file's shape. Every key has a default so that an empty file (or none) runs the
// gateway on its embedded defaults: a SQLite file under ./data and the built-in PCA simulator.

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected "host:port", e.g. "127.0.0.1:14000"');

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

const profileSchema = z
  .object({
    description: z.string().default(''),
    period: z.number().int().min(1).max(3650).optional(),
    keyTypes: z.array(z.enum(['rsa2048', 'rsa3072', 'rsa4096', 'ecdsa-p256', 'ecdsa-p384'])).optional(),
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
      })
      .strict()
      .prefault({}),
    storage: z
      .object({ sqlite: z.string().min(1).default('./data/gateway.sqlite') })
      .strict()
      .prefault({}),
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
        dnsResolvers: z.array(hostPort.or(z.string().regex(/^[0-9a-fA-F:.]+$/))).default([]),
        timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
        concurrency: z.number().int().min(1).max(256).default(16),
      })
      .strict()
      .prefault({}),
    pca: z
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
        /** Total time an order may spend retrying the PCA before it ends invalid. */
        issuanceDeadlineMs: z.number().int().min(1000).default(10 * 60_000),
      })
      .strict()
      .prefault({}),
    simulator: z
      .object({
        listen: hostPort.default('127.0.0.1:14001'),
        dataDir: z.string().default('./data/pca-simulator'),
        tiers: z.union([z.literal(1), z.literal(2)]).default(2),
      })
      .strict()
      .prefault({}),
    logging: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
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
  });

export type GatewayConfig = z.infer<typeof configSchema>;
