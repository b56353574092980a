import { describe, expect, it } from 'vitest';
import type { KeyType } from '../acme/csr.js';
import type { AcmeProblem } from '../acme/problems.js';
import { ManualClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import { CaWatch } from './ca-status.js';
import { PcaError } from './errors.js';
import type { KeyShape } from './key-shape.js';
import type { PcaCaInfo, PcaClient } from './types.js';

// CaWatch (ca-status.ts): readiness, the key rule, the CA's end and what a sign may ask for, from
// Get CA answers scripted here.

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 5, 1);

function ca(o: { status?: string; endsInDays?: number; key?: KeyShape | null } = {}): PcaCaInfo {
  return {
    caTag: 'aaaaaaaa-bbbbbbbb',
    status: o.status ?? 'ACTIVE',
    caType: 'PRIVATE_SUB',
    subject: 'Team CA',
    publicKeyAlgorithm: 'EC',
    key: o.key === undefined ? { kind: 'EC', bits: 256 } : o.key,
    notBefore: new Date(T0 - 365 * DAY),
    notAfter: new Date(T0 + (o.endsInDays ?? 365) * DAY),
    certPem: null,
    crlUrls: [],
    ocspUrls: [],
  };
}

function watch(answers: Array<PcaCaInfo | Error>, keyTypes: 'ca' | readonly KeyType[] = 'ca') {
  const clock = new ManualClock(T0);
  let reads = 0;
  const pca = {
    getCa: async () => {
      reads++;
      const a = answers.length > 1 ? answers.shift()! : answers[0]!;
      if (a instanceof Error) throw a;
      return a;
    },
  } as unknown as PcaClient;
  const w = new CaWatch({ pca, clock, logger: silentLogger(), keyTypes, refreshMs: 60_000 });
  return { w, clock, reads: () => reads };
}

describe('CaWatch', () => {
  it('before any read: ready, nothing assumed (no key rule, no cap)', () => {
    const { w } = watch([ca()]);
    expect(w.notReady()).toBeNull();
    expect(w.acceptedKeyTypes()).toBeNull();
    expect(() => w.checkKeyType('rsa4096')).not.toThrow();
    expect(w.signLimits(new Date(T0))).toEqual({ kind: 'sign', maxPeriodDays: null });
  });

  it('ACTIVE: ready; the period is capped 10 minutes inside the CA end, at 3650 days at most; the CA key goes with it', async () => {
    const { w } = watch([ca({ endsInDays: 20 })]);
    await w.refresh();
    expect(w.notReady()).toBeNull();
    expect(w.signLimits(new Date(T0))).toEqual({ kind: 'sign', maxPeriodDays: 19, caKey: { kind: 'EC', bits: 256 } });
    expect(w.signLimits(new Date(T0 - 11 * 60_000))).toMatchObject({ maxPeriodDays: 20 });
    const long = watch([ca({ endsInDays: 9000 })]);
    await long.w.refresh();
    expect(long.w.signLimits(new Date(T0))).toMatchObject({ maxPeriodDays: 3650 });
  });

  it.each(['DEACTIVATED', 'DESTROYING', 'DISABLED'])('%s: not ready naming the status; issuance waits', async (status) => {
    const { w } = watch([ca({ status })]);
    await w.refresh();
    expect(w.notReady()).toBe(`the Private CA aaaaaaaa-bbbbbbbb is ${status}, not ACTIVE`);
    expect(w.signLimits(new Date(T0))).toEqual({ kind: 'wait', reason: `the Private CA is ${status}, not ACTIVE (Get CA); issuance waits until it is` });
  });

  it('ending within a day: nothing can be signed (fail, naming the end); expired: not ready', async () => {
    const { w, clock } = watch([ca({ endsInDays: 0.5 })]);
    await w.refresh();
    const limits = w.signLimits(new Date(T0));
    expect(limits.kind).toBe('fail');
    expect((limits as { problem: AcmeProblem }).problem.detail).toMatch(/^the Private CA's certificate ends at 2026-06-01T12:00:00.000Z: it cannot sign a certificate valid for a whole day/);
    clock.advance(DAY);
    expect(w.notReady()).toBe('the Private CA aaaaaaaa-bbbbbbbb expired at 2026-06-01T12:00:00.000Z');
  });

  it('credentials or caTag refused: not ready, pointing at pca check; a network failure keeps what was known', async () => {
    const auth = new PcaError('http', 'HTTP 401', { httpStatus: 401, code: '200', reason: 'authentication', pcaMessage: 'Authentication Failed' });
    const { w } = watch([auth, new PcaError('network', 'refused'), ca(), new PcaError('timeout', 'slow')]);
    await w.refresh();
    expect(w.notReady()).toBe('Get CA failed (HTTP 401, code 200, "Authentication Failed"); run `acme-pca-gateway pca check`');
    expect(w.signLimits(new Date(T0)).kind).toBe('wait');
    await w.refresh();
    expect(w.notReady()).toBeNull();
    await w.refresh();
    await w.refresh();
    expect(w.current()?.status).toBe('ACTIVE');
    expect(w.notReady()).toBeNull();
  });

  it("key rule ca: the CA's own key type only, as a badCSR that lists it; a list: that list", async () => {
    const ec = watch([ca()]);
    await ec.w.refresh();
    expect(ec.w.acceptedKeyTypes()).toEqual(['ecdsa-p256']);
    expect(() => ec.w.checkKeyType('ecdsa-p256')).not.toThrow();
    expect(() => ec.w.checkKeyType('ecdsa-p384')).toThrow(
      expect.objectContaining({ type: 'badCSR', detail: "key type ecdsa-p384 cannot be issued here: the Private CA's key is EC256 and it signs keys of its own type only (accepted: ecdsa-p256)" }),
    );
    const rsa = watch([ca({ key: { kind: 'RSA', bits: 4096 } })]);
    await rsa.w.refresh();
    expect(rsa.w.acceptedKeyTypes()).toEqual(['rsa4096']);
    const p521 = watch([ca({ key: { kind: 'EC', bits: 521 } })]);
    await p521.w.refresh();
    expect(() => p521.w.checkKeyType('ecdsa-p521')).not.toThrow();
    const unknownKey = watch([ca({ key: null })]);
    await unknownKey.w.refresh();
    expect(unknownKey.w.acceptedKeyTypes()).toBeNull();
    const list = watch([ca()], ['rsa2048', 'ecdsa-p521']);
    expect(() => list.w.checkKeyType('ecdsa-p256')).toThrow(/the Private CA signs only these key types \(accepted: rsa2048, ecdsa-p521\)/);
  });

  it("a notAfter past the CA's end (10 minutes of margin) is malformed naming the end", async () => {
    const { w } = watch([ca({ endsInDays: 30 })]);
    expect(() => w.checkNotAfter(new Date(T0 + 400 * DAY))).not.toThrow(); // not read yet
    await w.refresh();
    expect(() => w.checkNotAfter(new Date(T0 + 29 * DAY))).not.toThrow();
    expect(() => w.checkNotAfter(null)).not.toThrow();
    expect(() => w.checkNotAfter(new Date(T0 + 30 * DAY - 5 * 60_000))).toThrow(
      expect.objectContaining({ type: 'malformed', detail: "notAfter 2026-06-30T23:55:00.000Z is past the end of the Private CA's certificate (2026-07-01T00:00:00.000Z): a certificate cannot outlive the CA that signs it" }),
    );
  });

  it('profile descriptions name the keys only where the CA narrows them', async () => {
    const { w } = watch([ca()]);
    expect(w.describeProfile('Short', undefined)).toBe('Short');
    await w.refresh();
    expect(w.describeProfile('Short', undefined)).toBe('Short (keys: ecdsa-p256)');
    expect(w.describeProfile('', undefined)).toBe('keys: ecdsa-p256');
    expect(w.describeProfile('EC', ['ecdsa-p256'])).toBe('EC');
    expect(w.describeProfile('Mixed', ['rsa2048', 'ecdsa-p256'])).toBe('Mixed (keys: ecdsa-p256)');
    expect(w.describeProfile('RSA', ['rsa2048'])).toBe('RSA (no key type this Private CA signs)');
  });

  it('one read at a time; refreshIfOlderThan reads only when the last read is older', async () => {
    const { w, clock, reads } = watch([ca()]);
    await Promise.all([w.refresh(), w.refresh(), w.refresh()]);
    expect(reads()).toBe(1);
    await w.refreshIfOlderThan(30_000);
    expect(reads()).toBe(1);
    clock.advance(31_000);
    await w.refreshIfOlderThan(30_000);
    expect(reads()).toBe(2);
    await w.start();
    w.stop();
    expect(reads()).toBe(3);
  });
});
