import { Agent, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningListener } from '../../src/http/listener.js';
import { AcmeTestClient, EXTERNAL_URL, startTestGateway, type TestGateway } from '../harness.js';

// What a client sees on the wire, through the real Node listener: one Link per header line
// (interop item 40: x/crypto, acme.sh, dehydrated and uacme misread comma-joined links).

let t: TestGateway;
let server: RunningListener;
let c: AcmeTestClient;

beforeAll(async () => {
  t = await startTestGateway();
  server = await listen(t.gw.app as never, { host: '127.0.0.1', port: 0, tls: null });
  c = await AcmeTestClient.withAccount(t);
});
afterAll(async () => {
  await server?.close();
  await t?.dispose();
});

interface RawResponse {
  status: number;
  rawHeaders: string[];
  body: string;
}

function send(path: string, opts: { method?: string; body?: string | Buffer[]; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, path, method: opts.method ?? 'POST', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (Array.isArray(opts.body)) {
      for (const part of opts.body) req.write(part);
      req.end();
    } else req.end(opts.body);
  });
}

const headerValues = (raw: string[], name: string) =>
  raw.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name ? [raw[i + 1]!] : []));

describe('over a real socket', () => {
  it('a challenge POST carries two separate Link header lines, index and up', async () => {
    const order = await c.newOrder(['wire.example.com']);
    const authzUrl = order.body.authorizations[0] as string;
    const challengeUrl = (await c.postAsGet(authzUrl)).body.challenges[0].url as string;
    const jws = await c.sign(challengeUrl, {});
    const res = await send(new URL(challengeUrl).pathname, { body: JSON.stringify(jws), headers: { 'Content-Type': 'application/jose+json' } });
    expect(res.status).toBe(200);
    const links = headerValues(res.rawHeaders, 'link');
    expect(links).toEqual([`<${EXTERNAL_URL}/directory>;rel="index"`, `<${authzUrl}>;rel="up"`]);
    expect(headerValues(res.rawHeaders, 'replay-nonce')).toHaveLength(1);
    expect(headerValues(res.rawHeaders, 'content-type')).toEqual(['application/json']);
  });

  it('errors carry the Link index line, a nonce and a problem document', async () => {
    const res = await send('/new-order', { body: 'not json', headers: { 'Content-Type': 'application/jose+json' } });
    expect(res.status).toBe(400);
    expect(headerValues(res.rawHeaders, 'link')).toEqual([`<${EXTERNAL_URL}/directory>;rel="index"`]);
    expect(headerValues(res.rawHeaders, 'replay-nonce')).toHaveLength(1);
    expect(headerValues(res.rawHeaders, 'content-type')).toEqual(['application/problem+json']);
    expect(JSON.parse(res.body)).toMatchObject({ type: 'urn:ietf:params:acme:error:malformed', status: 400 });
  });

  it('a chunked body over the limit (no Content-Length) → 413 problem', async () => {
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    const res = await send('/new-order', {
      body: Array.from({ length: 8 }, () => chunk),
      headers: { 'Content-Type': 'application/jose+json', 'Transfer-Encoding': 'chunked' },
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ type: 'urn:ietf:params:acme:error:malformed', status: 413 });
    expect(headerValues(res.rawHeaders, 'replay-nonce')).toHaveLength(1);
  });

  it('a Content-Length over the limit → 413 problem before the body is read', async () => {
    const res = await send('/new-order', { body: 'x'.repeat(64 * 1024 + 1), headers: { 'Content-Type': 'application/jose+json' } });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ type: 'urn:ietf:params:acme:error:malformed', status: 413 });
  });

  it('a signed body that arrives in several small chunks is read whole (the Node request, not a web stream)', async () => {
    const order = await c.newOrder(['chunks.example.com']);
    const jws = Buffer.from(JSON.stringify(await c.sign(order.location!, '')));
    const parts = Array.from({ length: Math.ceil(jws.length / 7) }, (_, i) => jws.subarray(i * 7, i * 7 + 7));
    const res = await send(new URL(order.location!).pathname, { body: parts, headers: { 'Content-Type': 'application/jose+json' } });
    expect(res.status, res.body).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'pending', identifiers: [{ type: 'dns', value: 'chunks.example.com' }] });
  });

  it('HEAD /new-nonce → 200 and GET → 204, each with one Replay-Nonce', async () => {
    const head = await send('/new-nonce', { method: 'HEAD' });
    expect(head.status).toBe(200);
    const get = await send('/new-nonce', { method: 'GET' });
    expect(get.status).toBe(204);
    for (const r of [head, get]) {
      expect(headerValues(r.rawHeaders, 'replay-nonce')).toHaveLength(1);
      expect(headerValues(r.rawHeaders, 'cache-control')).toEqual(['no-store']);
    }
  });

  // Node's own HTTP client (acme-client and other Node clients use it) keeps a connection after a
  // HEAD response only if the response is delimited: without Content-Length it opened a new
  // connection, and a new TLS handshake, for every nonce it fetched.
  it('HEAD /new-nonce says Content-Length: 0, so a keep-alive client reuses its connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<Socket>();
    try {
      for (let i = 0; i < 3; i++) {
        const res = await new Promise<RawResponse>((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port: server.port, path: '/new-nonce', method: 'HEAD', agent }, (r) => {
            r.resume();
            r.on('end', () => resolve({ status: r.statusCode!, rawHeaders: r.rawHeaders, body: '' }));
          });
          req.on('socket', (s) => sockets.add(s));
          req.on('error', reject);
          req.end();
        });
        expect(res.status).toBe(200);
        expect(headerValues(res.rawHeaders, 'content-length')).toEqual(['0']);
      }
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});
