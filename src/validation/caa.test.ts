import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startChallTestSrvDns, type ChallTestSrvDns } from '../../test/support/challtestsrv-dns.js';
import { startFakeDns, type FakeDnsServer, type Zone } from '../../test/support/fake-dns.js';
import { missingPrerequisite } from '../../test/support/prerequisites.js';
import { createDnsResolver } from '../platform/dns.js';
import { createCaaChecker, parseIssueValue, type CaaOutcome, type CaaRequest, type CaaSettings } from './caa.js';

// CAA (RFC 8659, RFC 8657) against real DNS servers on loopback: pebble-challtestsrv, whose
// /add-caa sets records over its management API, and the fake DNS server of test/support for what
// challtestsrv cannot serve (SERVFAIL, the Issuer Critical flag, silence).

const SETTINGS: CaaSettings = { issuerDomains: ['pki.corp.test', 'ca.example.net'] };
const ACCOUNT = 'https://acme.corp.test/acct/abc123';

function request(value: string, extra: Partial<CaaRequest> = {}): CaaRequest {
  return { identifier: { type: 'dns', value }, wildcard: false, accountUri: ACCOUNT, method: 'http-01', ...extra };
}

function refusal(outcome: CaaOutcome) {
  if (outcome.allowed) throw new Error('expected CAA to refuse');
  return outcome.problem;
}

describe('parseIssueValue (RFC 8659 §4.2)', () => {
  it.each([
    ['ca.example.net', { issuer: 'ca.example.net', parameters: [] }],
    ['  CA.Example.NET  ', { issuer: 'ca.example.net', parameters: [] }],
    [';', { issuer: null, parameters: [] }],
    ['', { issuer: null, parameters: [] }],
    ['ca.example.net; accounturi=https://acme.test/acct/1', { issuer: 'ca.example.net', parameters: [['accounturi', 'https://acme.test/acct/1']] }],
    ['ca.example.net;ValidationMethods = dns-01,http-01 ; x=y;', { issuer: 'ca.example.net', parameters: [['validationmethods', 'dns-01,http-01'], ['x', 'y']] }],
  ])('%j', (value, expected) => {
    expect(parseIssueValue(value)).toEqual(expected);
  });

  it.each(['ca example.net', 'ca.example.net; accounturi', 'ca.example.net; a=b c', '-ca.example.net', 'ca.example.net; =x'])('%j is malformed', (value) => {
    expect(parseIssueValue(value)).toBeNull();
  });
});

describe('CAA checker against pebble-challtestsrv', () => {
  let srv: ChallTestSrvDns | null = null;
  beforeAll(async () => {
    srv = await startChallTestSrvDns();
    if (!srv) return;
    await srv.addCaa('corp.test', [{ tag: 'issue', value: 'pki.corp.test' }, { tag: 'iodef', value: 'mailto:pki@corp.test' }]);
    await srv.addCaa('other.corp.test', [{ tag: 'issue', value: 'letsencrypt.org' }]);
    await srv.addCaa('none.corp.test', [{ tag: 'issue', value: ';' }]);
    await srv.addCaa('wild.corp.test', [
      { tag: 'issue', value: 'pki.corp.test' },
      { tag: 'issuewild', value: 'letsencrypt.org' },
    ]);
    await srv.addCaa('mine.corp.test', [{ tag: 'issue', value: `ca.example.net; accounturi=${ACCOUNT}` }]);
    await srv.addCaa('theirs.corp.test', [{ tag: 'issue', value: 'ca.example.net; accounturi=https://acme.corp.test/acct/someone-else' }]);
    await srv.addCaa('dnsonly.corp.test', [{ tag: 'issue', value: 'pki.corp.test; validationmethods=dns-01' }]);
    await srv.addCaa('two.corp.test', [
      { tag: 'issue', value: 'letsencrypt.org' },
      { tag: 'issue', value: 'PKI.corp.test; validationmethods=tls-alpn-01,http-01' },
    ]);
    await srv.addCaa('iodef-only.test', [{ tag: 'iodef', value: 'mailto:x@iodef-only.test' }]);
  });
  afterAll(async () => srv?.stop());

  const checker = () => createCaaChecker({ resolver: createDnsResolver({ servers: [srv!.server] }) });
  const need = (ctx: { skip(note?: string): never }) => {
    if (!srv) missingPrerequisite('pebble-challtestsrv (Debian package pebble)', ctx);
  };

  it('allows a name below a domain whose CAA names this CA, found by climbing the tree', async (ctx) => {
    need(ctx);
    expect(await checker().check(request('a.b.corp.test'), SETTINGS)).toEqual({ allowed: true, domain: 'corp.test' });
    expect(await checker().check(request('corp.test'), SETTINGS)).toEqual({ allowed: true, domain: 'corp.test' });
  });

  it('allows any CA when no CAA exists up to the root (NODATA everywhere)', async (ctx) => {
    need(ctx);
    expect(await checker().check(request('www.no-caa.example'), SETTINGS)).toEqual({ allowed: true, domain: null });
  });

  it('refuses when the closest RRset names another CA, even though its parent names this one', async (ctx) => {
    need(ctx);
    const p = refusal(await checker().check(request('app.other.corp.test'), SETTINGS));
    expect(p.type).toBe('caa');
    expect(p.status).toBe(403);
    expect(p.identifier).toEqual({ type: 'dns', value: 'app.other.corp.test' });
    expect(p.detail).toBe(
      'CAA records for other.corp.test forbid issuance for app.other.corp.test: no issue property allows this CA (pki.corp.test, ca.example.net): issue "letsencrypt.org" names another CA',
    );
  });

  it('refuses an issue property with no CA (";")', async (ctx) => {
    need(ctx);
    expect(refusal(await checker().check(request('none.corp.test'), SETTINGS)).detail).toContain('issue ";" names no CA: issuance is forbidden');
  });

  it('a wildcard follows issuewild when there is one (RFC 8659 §4.3), a plain name follows issue', async (ctx) => {
    need(ctx);
    const wild = refusal(await checker().check(request('wild.corp.test', { wildcard: true }), SETTINGS));
    expect(wild.type).toBe('caa');
    expect(wild.identifier).toEqual({ type: 'dns', value: '*.wild.corp.test' });
    expect(wild.detail).toContain('no issuewild property allows this CA');
    expect((await checker().check(request('wild.corp.test'), SETTINGS)).allowed).toBe(true);
    // No issuewild at corp.test: a wildcard there follows issue.
    expect((await checker().check(request('x.corp.test', { wildcard: true }), SETTINGS)).allowed).toBe(true);
  });

  it('accounturi (RFC 8657 §3) must be this account', async (ctx) => {
    need(ctx);
    expect((await checker().check(request('mine.corp.test'), SETTINGS)).allowed).toBe(true);
    const p = refusal(await checker().check(request('theirs.corp.test'), SETTINGS));
    expect(p.detail).toContain(`is limited to another account (accounturi; this account is ${ACCOUNT})`);
  });

  it('validationmethods (RFC 8657 §4) must list the challenge that validated the name', async (ctx) => {
    need(ctx);
    expect((await checker().check(request('dnsonly.corp.test', { method: 'dns-01' }), SETTINGS)).allowed).toBe(true);
    const p = refusal(await checker().check(request('dnsonly.corp.test', { method: 'http-01' }), SETTINGS));
    expect(p.detail).toContain('does not list http-01 in validationmethods');
  });

  it('one property that allows is enough; issuer domain names compare case-insensitively', async (ctx) => {
    need(ctx);
    expect((await checker().check(request('two.corp.test', { method: 'tls-alpn-01' }), SETTINGS)).allowed).toBe(true);
    const p = refusal(await checker().check(request('two.corp.test', { method: 'dns-01' }), SETTINGS));
    expect(p.detail).toContain('issue "letsencrypt.org" names another CA; issue "PKI.corp.test; validationmethods=tls-alpn-01,http-01" does not list dns-01');
  });

  it('an RRset with no issue property (iodef only) does not restrict issuance', async (ctx) => {
    need(ctx);
    expect(await checker().check(request('www.iodef-only.test'), SETTINGS)).toEqual({ allowed: true, domain: 'iodef-only.test' });
  });

  it('another CA name in the settings changes the verdict (the settings are the input)', async (ctx) => {
    need(ctx);
    expect((await checker().check(request('app.other.corp.test'), { issuerDomains: ['letsencrypt.org'] })).allowed).toBe(true);
  });

  it('an ip identifier has no CAA', async (ctx) => {
    need(ctx);
    expect(await checker().check({ ...request('x'), identifier: { type: 'ip', value: '10.0.0.1' } }, SETTINGS)).toEqual({ allowed: true, domain: null });
  });
});

describe('CAA checker: DNS failures and critical tags (fake DNS server)', () => {
  let dns: FakeDnsServer;
  beforeAll(async () => {
    dns = await startFakeDns(
      new Map<string, Zone>([
        ['servfail.test', { rcode: 2 }],
        ['ok.parent-fails.test', { A: ['192.0.2.1'] }],
        ['parent-fails.test', { rcode: 2 }],
        ['refused.test', { rcode: 5 }],
        ['crit.test', { CAA: [{ tag: 'issue', value: 'pki.corp.test' }, { flags: 128, tag: 'tbs', value: 'unknown' }] }],
        ['noncrit.test', { CAA: [{ tag: 'issue', value: 'pki.corp.test' }, { flags: 0, tag: 'tbs', value: 'unknown' }] }],
        ['critknown.test', { CAA: [{ flags: 128, tag: 'issue', value: 'pki.corp.test' }] }],
        ['upper.test', { CAA: [{ tag: 'ISSUE', value: 'letsencrypt.org' }] }],
        ['criticaltag.test', { CAA: [{ tag: 'issue', value: 'pki.corp.test' }, { tag: 'critical', value: 'x' }] }],
        ['silent.test', { silent: true }],
      ]),
    );
  });
  afterAll(() => dns.close());

  const checker = (timeoutMs?: number) => createCaaChecker({ resolver: createDnsResolver({ servers: [dns.server], timeoutMs: 60_000 }), ...(timeoutMs ? { timeoutMs } : {}) });

  it('SERVFAIL at the name refuses with a dns problem', async () => {
    const p = refusal(await checker().check(request('servfail.test'), SETTINGS));
    expect(p.type).toBe('dns');
    expect(p.detail).toBe('DNS problem: SERVFAIL looking up CAA for servfail.test; without an answer the CAA check cannot allow issuance');
  });

  it('SERVFAIL further up the tree, after NODATA below, refuses too', async () => {
    const p = refusal(await checker().check(request('ok.parent-fails.test'), SETTINGS));
    expect(p.type).toBe('dns');
    expect(p.detail).toContain('SERVFAIL looking up CAA for parent-fails.test');
    expect(dns.queries).toContain('ok.parent-fails.test 257');
  });

  it('a refused query refuses', async () => {
    expect(refusal(await checker().check(request('a.refused.test'), SETTINGS)).type).toBe('dns');
  });

  it('a critical tag this CA does not know refuses (RFC 8659 §4.1); a non-critical one is ignored', async () => {
    const p = refusal(await checker().check(request('crit.test'), SETTINGS));
    expect(p.type).toBe('caa');
    expect(p.detail).toBe('CAA records for crit.test forbid issuance for crit.test: the critical property "tbs" is not understood by this CA (RFC 8659 §4.1)');
    expect((await checker().check(request('noncrit.test'), SETTINGS)).allowed).toBe(true);
    expect((await checker().check(request('critknown.test'), SETTINGS)).allowed).toBe(true);
  });

  it('tags compare case-insensitively (RFC 8659 §4.1)', async () => {
    expect(refusal(await checker().check(request('upper.test'), SETTINGS)).detail).toContain('issue "letsencrypt.org" names another CA');
  });

  it('a record whose tag is "critical" (which hides the flags in what the resolver returns) refuses rather than guesses', async () => {
    expect(refusal(await checker().check(request('criticaltag.test'), SETTINGS)).detail).toContain('the critical property "critical"');
  });

  it('a server that never answers ends at the CAA deadline with a dns problem, not before', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const asked = dns.nextQuery('silent.test');
      let settled = false;
      const outcome = checker(2_000).check(request('silent.test'), SETTINGS).finally(() => (settled = true));
      await asked;
      await vi.advanceTimersByTimeAsync(1_999);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const p = refusal(await outcome);
      expect(p.type).toBe('dns');
      expect(p.detail).toBe('DNS problem: timeout after 2000 ms looking up CAA for silent.test');
    } finally {
      vi.useRealTimers();
    }
  });
});
