import { randomBytes } from 'node:crypto';

/** Randomness is injected so tests can make ids and tokens repeatable. */
export interface Random {
  bytes(n: number): Buffer;
}

export const cryptoRandom: Random = { bytes: (n) => randomBytes(n) };

/** Unpadded base64url of n random bytes: safe in URLs and in every client's parser (RFC 8555 §8.1). */
export const randomToken = (random: Random, n = 16): string => random.bytes(n).toString('base64url');

/** An opaque random id (12 bytes, unpadded base64url): accounts, orders, jobs, certificates. */
export const randomId = (random: Random): string => random.bytes(12).toString('base64url');
