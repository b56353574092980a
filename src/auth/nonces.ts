import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../platform/clock.js';
import type { Random } from '../platform/random.js';
import type { Store } from '../store/types.js';

// Nonces that cost no write to issue (ARCHITECTURE.md): 8 bytes of issue time, 8 random bytes and a
// 16-byte HMAC over both, as unpadded base64url (RFC 8555 §6.5, interop item 5). Redeeming one checks
// the HMAC and age, then inserts it into the used-nonce table, whose unique key refuses a replay. The
// HMAC key lives in the database, so nonces survive a restart and any replica accepts them.

const TS_BYTES = 8;
const RAND_BYTES = 8;
const MAC_BYTES = 16;
const TOTAL = TS_BYTES + RAND_BYTES + MAC_BYTES;

export class NonceService {
  constructor(
    private readonly key: Buffer,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly lifetimeMs: number,
  ) {}

  static async create(store: Store, clock: Clock, random: Random, lifetimeMs: number): Promise<NonceService> {
    const keyB64 = await store.settings.getOrCreate('nonce_hmac_key', () => random.bytes(32).toString('base64'));
    return new NonceService(Buffer.from(keyB64, 'base64'), store, clock, random, lifetimeMs);
  }

  issue(): string {
    const body = Buffer.alloc(TS_BYTES + RAND_BYTES);
    body.writeBigUInt64BE(BigInt(this.clock.nowMs()), 0);
    this.random.bytes(RAND_BYTES).copy(body, TS_BYTES);
    return Buffer.concat([body, this.mac(body)]).toString('base64url');
  }

  /** true when the nonce is ours, fresh and used for the first time. */
  async redeem(nonce: string): Promise<boolean> {
    if (!/^[A-Za-z0-9_-]+$/.test(nonce)) return false;
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== TOTAL || raw.toString('base64url') !== nonce) return false;
    const body = raw.subarray(0, TS_BYTES + RAND_BYTES);
    if (!timingSafeEqual(raw.subarray(TS_BYTES + RAND_BYTES), this.mac(body))) return false;
    const issuedAt = Number(body.readBigUInt64BE(0));
    const now = this.clock.nowMs();
    if (issuedAt > now + 60_000 || now - issuedAt > this.lifetimeMs) return false;
    return this.store.nonces.redeem(nonce, issuedAt + this.lifetimeMs);
  }

  prune(): Promise<number> {
    return this.store.nonces.prune(this.clock.nowMs());
  }

  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
  }
}
