import { z } from 'zod';
import { AcmeProblem } from './problems.js';

// Request payloads (RFC 8555 §7.3-7.6), validated with zod. Unknown members are ignored, as clients
// send extras (certbot resends contact on onlyReturnExisting, legacy keyAuthorization on challenges).

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
  type: z.string(),
  value: z.string().max(1024),
});

export const newOrderPayload = z.object({
  identifiers: z.array(identifierPayload).min(1, 'an order needs at least one identifier').max(100),
  notBefore: z.string().optional(),
  notAfter: z.string().optional(),
  profile: z.string().max(64).optional(),
  replaces: z.string().max(512).optional(),
});

export const finalizePayload = z.object({
  csr: z.string().min(1).max(64 * 1024).regex(/^[A-Za-z0-9_-]+$/, 'csr must be base64url'),
});

export const authzUpdatePayload = z.object({
  status: z.literal('deactivated'),
});

export const revokePayload = z.object({
  certificate: z.string().min(1).regex(/^[A-Za-z0-9_-]+$/, 'certificate must be base64url'),
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
