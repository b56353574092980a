import { describe, expect, it } from 'vitest';
import { AcmeProblem } from './problems.js';
import { decodeJsonBytes, parseStrictJson, scanJson } from './strict-json.js';

const refusal = (fn: () => unknown): AcmeProblem => {
  try {
    fn();
  } catch (err) {
    if (err instanceof AcmeProblem) return err;
    throw err;
  }
  throw new Error('expected a refusal');
};

describe('scanJson: duplicate member names', () => {
  it.each([
    ['{"a":1,"a":2}', 'a', 'a'],
    ['{"alg":"ES256","nonce":"x","alg":"none"}', 'alg', 'alg'],
    // The same name spelled with an escape is the same member (RFC 8259 §8.3 compares code units).
    ['{"alg":"ES256","\\u0061lg":"none"}', 'alg', 'alg'],
    ['{"a\\"b":1,"a\\u0022b":2}', 'a"b', 'a"b'],
    ['{"jwk":{"kty":"EC","crv":"P-256","kty":"RSA"}}', 'kty', 'jwk.kty'],
    ['{"identifiers":[{"type":"dns","value":"a"},{"type":"dns","type":"ip","value":"b"}]}', 'type', 'identifiers[1].type'],
    ['[{"x":1},[{"y":1,"y":2}]]', 'y', '[1][0].y'],
    ['  {\n  "a" : 1 ,\n  "a" : 2\n}  ', 'a', 'a'],
    ['{"":1,"":2}', '', ''],
  ])('%s → %j at %j', (text, member, path) => {
    expect(scanJson(text)).toEqual({ kind: 'duplicate', member, path });
  });

  it.each([
    '{}',
    '[]',
    '"x"',
    '42',
    'null',
    '{"a":1,"b":{"a":1},"c":[{"a":1},{"a":1}]}',
    // A value equal to a name, names inside strings, escaped quotes and backslashes.
    '{"a":"a","b":"\\"a\\":","c":"{\\"c\\":1}","d":"\\\\","e":"\\\\\\"","a2":"[{,}]"}',
    // Different names that only look alike.
    '{"a":1,"A":2,"a ":3,"\\u00e9":4,"é\\u0301":5}',
    // Whitespace and member order as hand-built clients send them (acme.sh, dehydrated).
    '{ "protected" : "eyJ9", \n\t"payload": "", "signature" : "AA" }',
  ])('accepts %s', (text) => {
    expect(scanJson(text)).toBeNull();
  });

  it('ends on text that is not JSON, whatever it is', () => {
    for (const text of ['{"a', '"\\', '}}}]]]', '{"a":1,"a"', '[[[[', '{"a\\":1}', '\\"\\"', ',,,,{,,']) scanJson(text);
  });
});

describe('scanJson: limits', () => {
  it('refuses nesting deeper than the limit, and takes it at the limit', () => {
    expect(scanJson(`${'['.repeat(32)}${']'.repeat(32)}`)).toBeNull();
    expect(scanJson(`${'['.repeat(33)}${']'.repeat(33)}`)).toEqual({ kind: 'depth' });
    expect(scanJson(`${'{"a":'.repeat(33)}1${'}'.repeat(33)}`)).toEqual({ kind: 'depth' });
  });

  it('refuses more containers than the limit', () => {
    expect(scanJson(`[${Array(1023).fill('{}').join(',')}]`)).toBeNull();
    expect(scanJson(`[${Array(1024).fill('{}').join(',')}]`)).toEqual({ kind: 'containers' });
  });

  it('counts brackets inside strings as text', () => {
    expect(scanJson(JSON.stringify({ a: '['.repeat(5000) }))).toBeNull();
  });
});

describe('parseStrictJson', () => {
  it('parses what JSON.parse parses', () => {
    const value = { protected: 'eyJ9', payload: '', signature: 'AA', n: [1, 2.5, -3e2, true, null, 'ü\u0000'] };
    expect(parseStrictJson(JSON.stringify(value), 'the body')).toEqual(value);
  });

  it('names the duplicate member and where it is', () => {
    const p = refusal(() => parseStrictJson('{"identifiers":[{"type":"dns","type":"ip"}]}', 'the JWS payload'));
    expect(p.type).toBe('malformed');
    expect(p.detail).toBe('the JWS payload has a duplicate member "type" (at "identifiers[0].type"); member names must be unique (RFC 7515 §4, RFC 8259 §4)');
    expect(refusal(() => parseStrictJson('{"alg":"a","alg":"b"}', 'the JWS protected header')).detail).toMatch(/^the JWS protected header has a duplicate member "alg";/);
  });

  it('quotes a long or odd member name safely, cut short', () => {
    const name = `\u0000${'x'.repeat(500)}`;
    const p = refusal(() => parseStrictJson(JSON.stringify({ [name]: 1 }).replace(/}$/, `,${JSON.stringify(name)}:2}`), 'the body'));
    expect(p.detail).toContain('"\\u0000xxxx');
    expect(p.detail.length).toBeLessThan(250);
  });

  it('says "not valid JSON" for text that is not, duplicates or not', () => {
    expect(refusal(() => parseStrictJson('{"a":1,"a":', 'the body')).detail).toBe('the body is not valid JSON');
    expect(refusal(() => parseStrictJson('{"a":1}}', 'the body')).detail).toBe('the body is not valid JSON');
  });

  it('names the depth and container limits', () => {
    expect(refusal(() => parseStrictJson('['.repeat(10_000), 'the body')).detail).toBe('the body is nested deeper than 32 levels');
    expect(refusal(() => parseStrictJson(`[${Array(5000).fill('[]').join(',')}]`, 'the body')).detail).toBe('the body has more than 1024 objects and arrays');
  });
});

describe('decodeJsonBytes', () => {
  it('decodes UTF-8 and refuses invalid sequences', () => {
    expect(decodeJsonBytes(Buffer.from('{"a":"ü"}'), 'the body')).toBe('{"a":"ü"}');
    expect(refusal(() => decodeJsonBytes(Buffer.from([0x7b, 0xff, 0x7d]), 'the body')).detail).toBe('the body is not valid JSON');
    // An overlong encoding of '"' (0xC0 0xA2) must not sneak a quote past anyone.
    expect(refusal(() => decodeJsonBytes(Buffer.from([0x22, 0xc0, 0xa2, 0x22]), 'x')).type).toBe('malformed');
  });
});
