import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DIRECTORY } from '../../src/acme/links.js';
import { eabKekPath } from '../../src/config/paths.js';
import { listen, type RunningListener } from '../../src/http/listener.js';
import { systemClock } from '../../src/platform/clock.js';
import { EabKeySealer } from '../../src/platform/key-sealer.js';
import { cryptoRandom } from '../../src/platform/random.js';
import { EabKeyService } from '../../src/services/eab-keys.js';
import { AcmeTestClient, handmadeJws, startTestGateway, type TestGateway } from '../harness.js';

// The audit trail (issue 13) from the ACME side: an account created with an EAB key (the account,
// the key, the client's address), its deactivation, and a newOrder refused by policy, each one row
// with who, what, when and what it concerns; and the admin API's view of it, JSON lines included.

let t: TestGateway;
let acme: RunningListener;
beforeAll(async () => {
  t = await startTestGateway({ config: { acme: { externalAccountRequired: true } } });
  // On a real socket, so the client's address is known.
  acme = await listen(t.gw.app as never, { host: '127.0.0.1', port: 0, tls: null });
});
afterAll(async () => {
  await acme?.close();
  await t?.dispose();
});

describe('audit trail', () => {
  it('account creation with EAB, its use, a refused newOrder and a deactivation, with who and from where', async () => {
    const service = new EabKeyService(t.gw.store, EabKeySealer.fromFile(eabKekPath(t.gw.config)), systemClock, cryptoRandom);
    const minted = await service.create(DEFAULT_DIRECTORY, 'audit test', null);
    const c = await AcmeTestClient.create(t);
    // Through the real socket: the harness client signs for the external URL, the request goes to the listener.
    const viaSocket = (url: string, init?: RequestInit) => fetch(url.replace('https://acme.test', `http://127.0.0.1:${acme.port}`), { ...init, headers: { ...(init?.headers as Record<string, string>), Host: 'acme.test' } });
    t.request = viaSocket as never;
    const binding = handmadeJws({ alg: 'HS256', kid: minted.keyId, url: t.url('newAccount') }, c.key.publicJwk, (input) => createHmac('sha256', Buffer.from(minted.hmacKey, 'base64url')).update(input).digest());
    expect((await c.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: binding })).status).toBe(201);
    const accountId = c.kid!.split('/').pop()!;
    expect((await c.newOrder([{ type: 'ip', value: '169.254.169.254' }])).status).toBe(400);
    expect((await c.post(c.kid!, { status: 'deactivated' })).status).toBe(200);

    const events = await t.gw.store.audit.list({ limit: 100 });
    expect(events.map((e) => e.action)).toEqual(['account.created', 'eab.used', 'order.refused', 'account.deactivated']);
    for (const e of events) expect(e).toMatchObject({ actor: 'account', actorName: accountId, accountId, directory: 'default', clientIp: expect.stringMatching(/127\.0\.0\.1$/) });
    expect(events[0]!.eabKeyId).toBe(minted.keyId);
    expect(events[1]!.eabKeyId).toBe(minted.keyId);
    expect(events[2]!.detail).toMatchObject({ problem: { type: 'urn:ietf:params:acme:error:rejectedIdentifier' } });

    const api = (await (await t.admin('/api/audit')).json()) as Array<{ action: string }>;
    expect(api.map((e) => e.action)).toEqual(events.map((e) => e.action));
    const lines = (await (await t.admin('/api/audit/export?since=1h')).text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((e) => e.action)).toEqual(events.map((e) => e.action));
    expect((await (await t.admin('/api/audit/export?since=2099-01-01')).text())).toBe('');
  });
});
