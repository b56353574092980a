import { randomBytes, randomFillSync } from 'node:crypto';

/** Randomness is injected so tests can make ids and tokens repeatable. */
export interface Random {
  bytes(n: number): Buffer;
}

export const cryptoRandom: Random = { bytes: (n) => randomBytes(n) };

/** Requests of at most this many bytes are served from the pool; larger ones go to randomBytes. */
const POOLED_MAX = 64;
const POOL_BYTES = 4096;

/**
 * The CSPRNG through a 4 KiB buffer refilled when spent: an order asks for some thirty small random
 * values (ids, tokens, nonces, request ids), and each randomBytes call costs a trip into OpenSSL's
 * locked generator, several times what copying a slice costs (issue 11). Every byte is handed out
 * once; each gateway builds its own (deps.ts), so the pool is not shared state across instances.
 */
export function pooledCryptoRandom(): Random {
  const pool = Buffer.allocUnsafe(POOL_BYTES);
  let used = POOL_BYTES;
  return {
    bytes(n) {
      if (n > POOLED_MAX) return randomBytes(n);
      if (used + n > POOL_BYTES) {
        randomFillSync(pool);
        used = 0;
      }
      const out = Buffer.allocUnsafe(n);
      pool.copy(out, 0, used, used + n);
      used += n;
      return out;
    },
  };
}

/** Unpadded base64url of n random bytes: safe in URLs and in every client's parser (RFC 8555 §8.1). */
export const randomToken = (random: Random, n = 16): string => random.bytes(n).toString('base64url');

/** An opaque random id (12 bytes, unpadded base64url): accounts, orders, jobs, certificates. */
export const randomId = (random: Random): string => random.bytes(12).toString('base64url');
