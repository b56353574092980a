import type { KeyObject } from 'node:crypto';

/**
 * Parsed account keys by account id and thumbprint: importing a JWK on every request roughly doubles
 * the cost of a JWS check (notes/stack-costs.md). Bounded, least-recently-used first out.
 */
export class KeyCache {
  private readonly entries = new Map<string, KeyObject>();
  constructor(private readonly capacity = 10_000) {}

  get(accountId: string, thumbprint: string): KeyObject | undefined {
    const key = `${accountId}/${thumbprint}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(accountId: string, thumbprint: string, value: KeyObject): void {
    const key = `${accountId}/${thumbprint}`;
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
