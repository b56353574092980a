import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkIssued, type IssuedCheck } from './issued-check.js';
import type { Identifier } from './types.js';

// "Never serve a wrong certificate" (acme/issued-check.ts) against real certificates built here:
// a root, an intermediate and leaves with chosen keys, names and validity. One case per rule, so
// that removing the rule's line fails its case.

const KEY_ALG: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN_ALG: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY = 86_400_000;
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);

interface Ca {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  pem: string;
}

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(4, '0');
const newKeys = async () => (await webcrypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
const pemOf = (cert: x509.X509Certificate) => cert.toString('pem');

/** A CA certificate; `keys` and `skiHex` let a test forge one that reuses another's key or key id. */
async function makeCa(name: string, issuer?: Ca, keys?: webcrypto.CryptoKeyPair, skiHex?: string): Promise<Ca> {
  const k = keys ?? (await newKeys());
  const extensions = [
    new x509.BasicConstraintsExtension(true, issuer ? 0 : undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    skiHex ? new x509.SubjectKeyIdentifierExtension(skiHex) : await x509.SubjectKeyIdentifierExtension.create(k.publicKey),
  ];
  const validity = { serialNumber: nextSerial(), notBefore: new Date(NOW.getTime() - DAY), notAfter: new Date(NOW.getTime() + 365 * DAY), signingAlgorithm: SIGN_ALG };
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({
        ...validity,
        subject: name,
        issuer: issuer.cert.subject,
        publicKey: k.publicKey,
        signingKey: issuer.keys.privateKey,
        extensions: [...extensions, await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey)],
      })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...validity, name, keys: k, extensions });
  return { cert, keys: k, pem: pemOf(cert) };
}

interface LeafOptions {
  issuer: Ca;
  keys: webcrypto.CryptoKeyPair;
  names: Identifier[];
  notBefore?: Date;
  notAfter?: Date;
}

async function makeLeaf(o: LeafOptions): Promise<string> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: '',
    issuer: o.issuer.cert.subject,
    notBefore: o.notBefore ?? new Date(NOW.getTime() - 60_000),
    notAfter: o.notAfter ?? new Date(NOW.getTime() + 30 * DAY),
    publicKey: o.keys.publicKey,
    signingKey: o.issuer.keys.privateKey,
    signingAlgorithm: SIGN_ALG,
    extensions: [
      new x509.SubjectAlternativeNameExtension(o.names.map((n) => ({ type: n.type, value: n.value })), true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.AuthorityKeyIdentifierExtension.create(o.issuer.keys.publicKey),
    ],
  });
  return pemOf(cert);
}

const spkiOf = async (keys: webcrypto.CryptoKeyPair) =>
  createHash('sha256').update(Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey))).digest('hex');

const NAMES: Identifier[] = [
  { type: 'dns', value: 'app.example.test' },
  { type: 'ip', value: '192.0.2.7' },
];

let root: Ca;
let inter: Ca;
let otherRoot: Ca;
let leafKeys: webcrypto.CryptoKeyPair;
let spki: string;
let anchors: X509Certificate[];

beforeAll(async () => {
  root = await makeCa('CN=Test Root');
  inter = await makeCa('CN=Test Intermediate', root);
  otherRoot = await makeCa('CN=Other Root');
  leafKeys = await newKeys();
  spki = await spkiOf(leafKeys);
  anchors = [new X509Certificate(root.pem)];
});

const check = (leafPem: string, chainPems: string[], o: { spki?: string; names?: Identifier[]; anchors?: X509Certificate[]; now?: Date } = {}): IssuedCheck =>
  checkIssued(leafPem, chainPems, { spkiSha256: o.spki ?? spki, identifiers: o.names ?? NAMES }, o.anchors ?? anchors, o.now ?? NOW);

function refused(result: IssuedCheck, reason: RegExp): void {
  expect(result.ok, JSON.stringify(result)).toBe(false);
  if (!result.ok) expect(result.reason).toMatch(reason);
}

describe('checkIssued accepts', () => {
  it('a leaf for the CSR key and exactly the order names, chained by its intermediate to the anchor; with its facts', async () => {
    const leafPem = await makeLeaf({ issuer: inter, keys: leafKeys, names: NAMES });
    const result = check(leafPem, [inter.pem]);
    expect(result.ok, JSON.stringify(result)).toBe(true);
    const leaf = new X509Certificate(leafPem);
    const ski = inter.cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    expect(result.facts).toEqual({
      serialHex: leaf.serialNumber.toLowerCase().replace(/^(00)+/, ''),
      spkiSha256: spki,
      akiB64: Buffer.from(ski, 'hex').toString('base64url'),
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
    });
  });

  it('a chain that carries the anchor itself, and a leaf the anchor signed directly', async () => {
    expect(check(await makeLeaf({ issuer: inter, keys: leafKeys, names: NAMES }), [inter.pem, root.pem]).ok).toBe(true);
    expect(check(await makeLeaf({ issuer: root, keys: leafKeys, names: NAMES }), [root.pem]).ok).toBe(true);
  });

  it('an anchor that is the issuing intermediate itself (pca.trustAnchorFile naming it)', async () => {
    const leafPem = await makeLeaf({ issuer: inter, keys: leafKeys, names: NAMES });
    expect(check(leafPem, [inter.pem], { anchors: [new X509Certificate(inter.pem)] }).ok).toBe(true);
  });

  it('names in another order, and a notBefore a few minutes ahead of our clock (PCA clock skew)', async () => {
    const leafPem = await makeLeaf({ issuer: inter, keys: leafKeys, names: [...NAMES].reverse(), notBefore: new Date(NOW.getTime() + 4 * 60_000) });
    expect(check(leafPem, [inter.pem]).ok).toBe(true);
  });
});

describe('checkIssued refuses', () => {
  it("a leaf for another key, and says so with the leaf's facts", async () => {
    const otherKeys = await newKeys();
    const result = check(await makeLeaf({ issuer: inter, keys: otherKeys, names: NAMES }), [inter.pem]);
    refused(result, /public key is not the CSR's/);
    expect(result.facts?.spkiSha256).toBe(await spkiOf(otherKeys));
  });

  it('a leaf missing one of the order names', async () => {
    refused(check(await makeLeaf({ issuer: inter, keys: leafKeys, names: [NAMES[0]!] }), [inter.pem]), /names \[dns:app\.example\.test\], not the order's/);
  });

  it('a leaf with a name the order does not have', async () => {
    const extra = [...NAMES, { type: 'dns' as const, value: 'extra.example.test' }];
    refused(check(await makeLeaf({ issuer: inter, keys: leafKeys, names: extra }), [inter.pem]), /names .*extra\.example\.test.*, not the order's/);
  });

  it('a leaf with other names of the same count', async () => {
    const wrong: Identifier[] = [{ type: 'dns', value: 'app.example.test' }, { type: 'ip', value: '192.0.2.8' }];
    refused(check(await makeLeaf({ issuer: inter, keys: leafKeys, names: wrong }), [inter.pem]), /not the order's/);
  });

  it('no issuing CA certificate at all', async () => {
    refused(check(await makeLeaf({ issuer: inter, keys: leafKeys, names: NAMES }), []), /no issuing CA certificate/);
  });

  it('a chain whose next certificate does not name the leaf issuer', async () => {
    refused(check(await makeLeaf({ issuer: inter, keys: leafKeys, names: NAMES }), [otherRoot.pem]), /certificate 0 of the chain is not signed by certificate 1/);
  });

  it('a chain whose next certificate has the issuer name and key id but not its key (signature does not verify)', async () => {
    const impostor = await makeCa('CN=Test Intermediate', root, undefined, inter.cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
    refused(check(await makeLeaf({ issuer: inter, keys: leafKeys, names: NAMES }), [impostor.pem]), /certificate 0 of the chain is not signed by certificate 1/);
  });

  it('a chain whose next certificate has the issuer key but another name', async () => {
    const renamed = await makeCa('CN=Renamed Intermediate', root, inter.keys);
    refused(check(await makeLeaf({ issuer: inter, keys: leafKeys, names: NAMES }), [renamed.pem]), /certificate 0 of the chain is not signed by certificate 1/);
  });

  it('a chain that verifies but to another root', async () => {
    const leafPem = await makeLeaf({ issuer: inter, keys: leafKeys, names: NAMES });
    refused(check(leafPem, [inter.pem], { anchors: [new X509Certificate(otherRoot.pem)] }), /does not lead to the configured trust anchor/);
  });

  it('a chain up to a root with the anchor name but another key', async () => {
    const fakeRoot = await makeCa('CN=Test Root');
    const fakeInter = await makeCa('CN=Test Intermediate', fakeRoot);
    const leafPem = await makeLeaf({ issuer: fakeInter, keys: leafKeys, names: NAMES });
    refused(check(leafPem, [fakeInter.pem]), /does not lead to the configured trust anchor/);
    refused(check(leafPem, [fakeInter.pem, fakeRoot.pem]), /does not lead to the configured trust anchor/);
  });

  it('a leaf that has expired (notAfter at or before now)', async () => {
    const leafPem = await makeLeaf({ issuer: inter, keys: leafKeys, names: NAMES, notBefore: new Date(NOW.getTime() - 2 * DAY), notAfter: NOW });
    refused(check(leafPem, [inter.pem]), /already expired/);
    expect(check(leafPem, [inter.pem], { now: new Date(NOW.getTime() - 1000) }).ok).toBe(true);
  });

  it('a leaf that is not valid yet (notBefore more than 5 minutes ahead)', async () => {
    const leafPem = await makeLeaf({ issuer: inter, keys: leafKeys, names: NAMES, notBefore: new Date(NOW.getTime() + 10 * 60_000) });
    refused(check(leafPem, [inter.pem]), /not valid yet/);
    expect(check(leafPem, [inter.pem], { now: new Date(NOW.getTime() + 5 * 60_000) }).ok).toBe(true);
  });

  it('a leaf or chain that does not parse (facts only when the leaf parsed)', async () => {
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    const bad = check(broken, [inter.pem]);
    refused(bad, /cannot be parsed/);
    expect(bad.facts).toBeUndefined();
    const badChain = check(await makeLeaf({ issuer: inter, keys: leafKeys, names: NAMES }), [broken]);
    refused(badChain, /cannot be parsed/);
    expect(badChain.facts?.spkiSha256).toBe(spki);
  });
});
