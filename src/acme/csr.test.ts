import { describe, expect, it } from 'vitest';
import { makeCsr } from '../pca/make-csr.js';
import { checkCsr } from './csr.js';
import { AcmeProblem } from './problems.js';

// Hostile CSRs (issue 9 item 7): whatever the bytes, checkCsr answers badCSR, never another error
// (which the HTTP layer would turn into a 500). @peculiar/x509 parses the key, the subject and the
// extensions lazily, on first access, so damage there surfaces late; the fuzz test found one.

const NAME = 'csr.example.com';
const der = async () => {
  const { csrPem } = await makeCsr([NAME]);
  return Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
};

async function outcome(bytes: Buffer): Promise<string> {
  try {
    await checkCsr(bytes, [{ type: 'dns', value: NAME }]);
    return 'accepted';
  } catch (err) {
    return err instanceof AcmeProblem ? err.type : `${(err as Error).name}: ${(err as Error).message}`;
  }
}

describe('checkCsr on damaged input', () => {
  it('one bit flipped in any byte → badCSR (or, rarely, still a good CSR), never another error', async () => {
    const good = await der();
    const seen = new Set<string>();
    for (let i = 0; i < good.length; i++) {
      const bad = Buffer.from(good);
      bad[i]! ^= 1 << i % 8;
      seen.add(await outcome(bad));
    }
    expect([...seen].filter((o) => o !== 'badCSR' && o !== 'accepted')).toEqual([]);
  });

  it('every bit of the key algorithm identifier flipped (the key is parsed on first access) → badCSR', async () => {
    const good = await der();
    const at = good.indexOf(Buffer.from('301306072a8648ce3d020106082a8648ce3d030107', 'hex')); // id-ecPublicKey, prime256v1
    expect(at).toBeGreaterThan(0);
    const seen = new Set<string>();
    for (let i = at; i < at + 21; i++) {
      for (let b = 0; b < 8; b++) {
        const bad = Buffer.from(good);
        bad[i]! ^= 1 << b;
        seen.add(await outcome(bad));
      }
    }
    expect([...seen]).toEqual(['badCSR']);
  });

  it('every truncation → badCSR', async () => {
    const good = await der();
    const seen = new Set<string>();
    for (let n = 0; n < good.length; n += 7) seen.add(await outcome(good.subarray(0, n)));
    expect([...seen]).toEqual(['badCSR']);
  });
});
