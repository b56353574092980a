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

/** An opaque random id (12 bytes, unpadded base64url): what owners and EAB key ids are made of. */
export const randomId = (random: Random): string => random.bytes(12).toString('base64url');

/**
 * Lowercase Crockford base32 (no i, l, o, u): its characters sort in the order of the values they
 * encode both bytewise (SQLite's BINARY, PostgreSQL's "C") and under a locale's collation (digits
 * before letters, one case), so the ids below sort by time in any database.
 */
const SORTABLE32 = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * The id of a row the gateway creates (accounts, orders, authorizations, challenges, jobs,
 * certificates, issuance attempts): 48 bits of creation time in milliseconds, then 80 random bits,
 * as 26 characters of SORTABLE32 — the layout of a ULID, written here because ours takes the
 * injected clock and randomness. Ids made later sort later, so a B-tree keyed by them (the primary
 * keys, and the indexes keyed by a parent's id) takes each insert on its right-hand pages and keeps
 * the rows of recent orders together in the page cache; random ids put each insert on a random leaf
 * page of a B-tree of millions of rows (issue 11, "A million certificates" in bench/RESULTS.md).
 * 80 random bits keep an id unguessable and unique within a millisecond; it names when the object
 * was made, which the object itself says to whoever may read it.
 */
export function timeOrderedId(random: Random, nowMs: number): string {
  const chars = new Array<string>(26);
  let t = Math.max(0, Math.floor(nowMs));
  for (let i = 9; i >= 0; i--) {
    chars[i] = SORTABLE32[t % 32]!;
    t = Math.floor(t / 32);
  }
  const r = random.bytes(10);
  // Two groups of 40 bits (5 bytes), each exact in a double: 8 characters each.
  for (let g = 0; g < 2; g++) {
    let v = r[g * 5]! * 2 ** 32 + r.readUInt32BE(g * 5 + 1);
    for (let k = 7; k >= 0; k--) {
      chars[10 + g * 8 + k] = SORTABLE32[v % 32]!;
      v = Math.floor(v / 32);
    }
  }
  return chars.join('');
}
