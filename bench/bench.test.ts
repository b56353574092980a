import { Resolver } from 'node:dns/promises';
import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import { startChallengeServer } from './load/challenge-server.js';
import { buildReply, startDnsResponder } from './load/dns-responder.js';
import { summarize } from './stats.js';

// Part of the unit project (`npm test`).

describe('bench DNS responder', () => {
  it('answers A 127.0.0.1 for any name and NODATA for AAAA and TXT (through c-ares)', async () => {
    const dns = await startDnsResponder();
    try {
      const r = new Resolver({ timeout: 1_000, tries: 1 });
      r.setServers([`127.0.0.1:${dns.port}`]);
      expect(await r.resolve4('svc-g-1.bench.test')).toEqual(['127.0.0.1']);
      expect(await r.resolve4('ANY.other.name')).toEqual(['127.0.0.1']);
      await expect(r.resolve6('svc-g-1.bench.test')).rejects.toMatchObject({ code: 'ENODATA' });
      await expect(r.resolveTxt('_acme-challenge.x.test')).rejects.toMatchObject({ code: 'ENODATA' });
      expect(dns.answered).toBe(4);
    } finally {
      await dns.close();
    }
  });

  it('ignores responses and truncated messages', () => {
    expect(buildReply(Buffer.alloc(5), [127, 0, 0, 1])).toBeNull();
    const response = Buffer.alloc(17);
    response.writeUInt16BE(0x8000, 2);
    response.writeUInt16BE(1, 4);
    expect(buildReply(response, [127, 0, 0, 1])).toBeNull();
  });
});

describe('bench challenge server', () => {
  it('serves registered key authorizations and 404 otherwise', async () => {
    const s = await startChallengeServer();
    try {
      s.set('tok', 'tok.thumb');
      const ok = await fetch(`http://127.0.0.1:${s.port}/.well-known/acme-challenge/tok`);
      expect([ok.status, await ok.text()]).toEqual([200, 'tok.thumb']);
      s.delete('tok');
      expect((await fetch(`http://127.0.0.1:${s.port}/.well-known/acme-challenge/tok`)).status).toBe(404);
      expect(s.served).toBe(1);
    } finally {
      await s.close();
    }
  });
});

describe('bench stats and flags', () => {
  it('nearest-rank percentiles', () => {
    const s = summarize(Array.from({ length: 100 }, (_, i) => i + 1));
    expect([s.n, s.p50, s.p90, s.p99, s.max, s.mean]).toEqual([100, 50, 90, 99, 100, 50.5]);
    expect(summarize([]).n).toBe(0);
  });

  it('parses flags and refuses unknown ones', () => {
    const a = parseArgs(['--orders', '50', '--concurrency=8', '--against', 'pebble', '--tls', '--out', '-']);
    expect([a.orders, a.concurrency, a.against, a.tls, a.out]).toEqual([50, 8, 'pebble', true, null]);
    expect(() => parseArgs(['--order', '5'])).toThrow(/unknown flag/);
    expect(() => parseArgs(['--concurrency', '0'])).toThrow(/integer/);
  });
});
