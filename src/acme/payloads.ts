import { z } from 'zod';
import { AcmeProblem } from './problems.js';

// Request payloads (RFC 8555 §7.3-7.6), validated with zod. Unknown members are ignored, as clients
// send extras (certbot resends contact on onlyReturnExisting, legacy keyAuthorization on challenges).
// Every string and list has an upper bound fitted to what it can legitimately hold, so no member is
// bounded only by server.maxBodyBytes and none is echoed into a problem detail at length.

export const newAccountPayload = z.object({
  contact: z.array(z.string().max(1024)).max(10).optional(),
  termsOfServiceAgreed: z.boolean().optional(),
  onlyReturnExisting: z.boolean().optional(),
  externalAccountBinding: z.unknown().optional(),
});

export const accountUpdatePayload = z.object({
  contact: z.array(z.string().max(1024)).max(10).optional(),
  /** Only "deactivated" means anything; any other value is ignored (RFC 8555 §7.3.2). */
  status: z.unknown().optional(),
});

export const identifierPayload = z.object({
  /** "dns" and "ip" (RFC 8738) are the types we know; other registered types are short words too. */
  type: z.string().max(32),
  /**
   * A DNS name is at most 253 characters (RFC 1035 §2.3.4), 255 with "*.", an IPv6 text form 45. A
   * name a little too long is a rejectedIdentifier (acme/identifiers.ts); beyond 300 it is malformed.
   */
  value: z.string().max(300),
});

export const newOrderPayload = z.object({
  identifiers: z.array(identifierPayload).min(1, 'an order needs at least one identifier').max(100),
  /** RFC 3339 date-times are about 30 characters. */
  notBefore: z.string().max(64).optional(),
  notAfter: z.string().max(64).optional(),
  profile: z.string().max(64).optional(),
  replaces: z.string().max(512).optional(),
});

/**
 * A CSR for 100 names of 253 characters with an RSA-4096 key is about 27 KiB of DER, 36 KiB of
 * base64url; 64 Ki characters leave room and are below the default body limit anyway.
 */
export const MAX_CSR_CHARS = 64 * 1024;

export const finalizePayload = z.object({
  csr: z.string().min(1).max(MAX_CSR_CHARS).regex(/^[A-Za-z0-9_-]+$/, 'csr must be base64url'),
});

export const authzUpdatePayload = z.object({
  status: z.literal('deactivated'),
});

export const revokePayload = z.object({
  certificate: z.string().min(1).max(MAX_CSR_CHARS).regex(/^[A-Za-z0-9_-]+$/, 'certificate must be base64url'),
  /** Any integer: one that is not an allowed RFC 5280 §5.3.1 code is badRevocationReason (RFC 8555 §7.6). */
  reason: z.number().int().optional(),
});

/** Parses a payload, turning a schema failure into a malformed problem that names the member. */
export function parsePayload<T extends z.ZodType>(schema: T, payload: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(payload ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.length ? issue.path.join('.') : what;
    throw new AcmeProblem('malformed', `${what}: "${path}" ${issue.message}`);
  }
  return result.data;
}
