import { generateKeyPairSync } from 'node:crypto';
import { parseStrictJson } from '../src/acme/strict-json.js';

// What the duplicate-member check (src/acme/strict-json.ts) costs on top of JSON.parse, on the texts
// every request carries: `npm run build && node dist/bench/strict-json.js`. Prints µs per call.

const b64u = (s: string) => Buffer.from(s).toString('base64url');
const rsaJwk = generateKeyPairSync('rsa', { modulusLength: 4096 }).publicKey.export({ format: 'jwk' });
const header = (extra: object) => JSON.stringify({ alg: 'RS256', nonce: 'A'.repeat(43), url: 'https://acme.example.com/acme/new-order', ...extra });
const jwsBody = (h: string, payload: string) => JSON.stringify({ protected: b64u(h), payload: b64u(payload), signature: 'S'.repeat(683) });

const newOrder = JSON.stringify({ identifiers: Array.from({ length: 100 }, (_, i) => ({ type: 'dns', value: `host-${i}.team.example.com` })) });
const cases: Array<[string, string]> = [
  ['kid header', header({ kid: 'https://acme.example.com/acme/acct/0123456789abcdef' })],
  ['RSA-4096 jwk header', header({ jwk: rsaJwk })],
  ['newOrder, 1 identifier', JSON.stringify({ identifiers: [{ type: 'dns', value: 'www.example.com' }] })],
  ['newOrder, 100 identifiers', newOrder],
  ['POST body (kid, small payload)', jwsBody(header({ kid: 'https://acme.example.com/acme/acct/1' }), '{}')],
  ['finalize body (RSA-4096 CSR)', jwsBody(header({ kid: 'x' }), JSON.stringify({ csr: 'C'.repeat(2200) }))],
  ['an object with 8,000 members', JSON.stringify(Object.fromEntries(Array.from({ length: 8000 }, (_, i) => [`m${i}`, 1])))],
  ['64 KiB body', jwsBody(header({ kid: 'x' }), JSON.stringify({ csr: 'C'.repeat(46_000) }))],
];

function perCall(fn: () => unknown): number {
  for (let i = 0; i < 2_000; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < 300_000_000n) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
    elapsed = process.hrtime.bigint() - start;
  }
  return Number(elapsed) / n / 1000;
}

console.log('text'.padEnd(34), 'bytes'.padStart(7), 'JSON.parse µs'.padStart(14), 'strict µs'.padStart(10), 'extra µs'.padStart(9));
for (const [name, text] of cases) {
  const plain = perCall(() => JSON.parse(text));
  const strict = perCall(() => parseStrictJson(text, 'x'));
  console.log(name.padEnd(34), String(text.length).padStart(7), plain.toFixed(2).padStart(14), strict.toFixed(2).padStart(10), (strict - plain).toFixed(2).padStart(9));
}
