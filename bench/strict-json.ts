import { generateKeyPairSync, sign, verify } from 'node:crypto';
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

// What one POST costs in all: the body, the protected header (read twice, at the alg/kid step and
// at the signature), and the payload; ES256 verification of the same request for scale.
const kidHeader = header({ kid: 'https://acme.example.com/acme/acct/0123456789abcdef' });
const orderPayload = JSON.stringify({ identifiers: [{ type: 'dns', value: 'www.example.com' }] });
const body = jwsBody(kidHeader, orderPayload);
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const signature = sign('sha256', Buffer.from(body), { key: privateKey, dsaEncoding: 'ieee-p1363' });
const perRequest = (parse: (text: string) => unknown) => () => {
  parse(body);
  parse(kidHeader);
  parse(kidHeader);
  parse(orderPayload);
};
const plainRequest = perCall(perRequest((x) => JSON.parse(x)));
const strictRequest = perCall(perRequest((x) => parseStrictJson(x, 'x')));
const es256 = perCall(() => verify('sha256', Buffer.from(body), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature));
console.log(`one newOrder POST (4 texts): JSON.parse ${plainRequest.toFixed(2)} µs, strict ${strictRequest.toFixed(2)} µs, +${(strictRequest - plainRequest).toFixed(2)} µs; ES256 verify ${es256.toFixed(1)} µs`);

console.log('text'.padEnd(34), 'bytes'.padStart(7), 'JSON.parse µs'.padStart(14), 'strict µs'.padStart(10), 'extra µs'.padStart(9));
for (const [name, text] of cases) {
  const plain = perCall(() => JSON.parse(text));
  const strict = perCall(() => parseStrictJson(text, 'x'));
  console.log(name.padEnd(34), String(text.length).padStart(7), plain.toFixed(2).padStart(14), strict.toFixed(2).padStart(10), (strict - plain).toFixed(2).padStart(9));
}
