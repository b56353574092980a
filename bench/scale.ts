import 'reflect-metadata'; // first: @peculiar/x509 (through tsyringe) needs it before it loads
import { X509Certificate } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { authorityKeyIdB64 } from '../src/acme/issued-check.js';
import { makeCsr } from '../src/pca/make-csr.js';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { startChallengeServer, type ChallengeServer } from './load/challenge-server.js';
import { startDnsResponder } from './load/dns-responder.js';
import { createHttpClient } from './load/http.js';
import { NodeAcmeClient } from './node-acme.js';
import { summarize, table } from './stats.js';

// `node dist/bench/scale.js --db FILE [--orders 150] [--rounds 2]`: latency of newOrder, finalize,
// ARI and revoke on an empty database and on FILE (bench/fill-million.ts makes one with a million
// certificates), the gateway in its own process as vs-pebble.sh runs it, one client, one operation
// at a time, the two databases in alternate rounds so both see the same machine load. Prints each
// operation's p50/p90/mean per database and the ratio of the medians (the target: within 10%).
// A benchmark, never a test.

type Op = 'newOrder' | 'finalize' | 'ARI' | 'revoke';
const OPS: Op[] = ['newOrder', 'finalize', 'ARI', 'revoke'];

interface Args {
  db: string;
  orders: number;
  rounds: number;
  warmup: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { db: '', orders: 150, rounds: 2, warmup: 20 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[++i] ?? '';
    if (flag === '--db') a.db = value;
    else if (flag === '--orders' || flag === '--rounds' || flag === '--warmup') a[flag.slice(2) as 'orders' | 'rounds' | 'warmup'] = Number(value);
    else throw new Error(`unknown flag ${flag}; usage: node dist/bench/scale.js --db FILE [--orders N] [--rounds N] [--warmup N]`);
  }
  if (!a.db) throw new Error('--db FILE is required (make one with node dist/bench/fill-million.js)');
  return a;
}

/** One complete order, timing the four operations; every other step is done but not timed. */
async function order(c: NodeAcmeClient, challenges: ChallengeServer, n: string, csrB64: string, times: Record<Op, number[]> | null): Promise<void> {
  const t = (op: Op, since: number) => times?.[op].push(performance.now() - since);
  let at = performance.now();
  const created = await c.postJson<{ authorizations: string[]; finalize: string }>(c.dir.newOrder!, { identifiers: [{ type: 'dns', value: n }] });
  t('newOrder', at);
  const orderUrl = created.res.headers.location as string;
  const authz = await c.postJson<{ challenges: Array<{ type: string; url: string; token: string }> }>(created.body.authorizations[0]!, null);
  const http01 = authz.body.challenges.find((x) => x.type === 'http-01')!;
  challenges.set(http01.token, `${http01.token}.${c.thumbprint}`);
  let answered = await c.postJson<{ status: string }>(http01.url, {});
  while (answered.body.status !== 'valid') {
    if (answered.body.status === 'invalid') throw new Error(`validation failed for ${n}`);
    await new Promise((r) => setTimeout(r, 20));
    answered = await c.postJson<{ status: string }>(created.body.authorizations[0]!, null);
  }
  challenges.delete(http01.token);
  at = performance.now();
  let fin = await c.postJson<{ status: string; certificate?: string }>(created.body.finalize, { csr: csrB64 });
  while (fin.body.status === 'processing') {
    await new Promise((r) => setTimeout(r, 20));
    fin = await c.postJson<{ status: string; certificate?: string }>(orderUrl, null);
  }
  t('finalize', at);
  if (fin.body.status !== 'valid') throw new Error(`order ${n} ended ${fin.body.status}`);
  const pem = (await c.post(fin.body.certificate!, null)).body.toString();
  const leaf = new X509Certificate(pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 25));
  const certId = `${authorityKeyIdB64(leaf)}.${Buffer.from(leaf.serialNumber, 'hex').toString('base64url')}`;
  at = performance.now();
  const ari = await c.http.request('GET', `${c.dir.renewalInfo}/${certId}`);
  t('ARI', at);
  if (ari.status !== 200) throw new Error(`ARI ${certId}: HTTP ${ari.status}`);
  at = performance.now();
  await c.post(c.dir.revokeCert!, { certificate: leaf.raw.toString('base64url'), reason: 0 });
  t('revoke', at);
}

async function measure(gw: GatewayProcess, challenges: ChallengeServer, csrs: string[], args: Args, label: string): Promise<Record<Op, number[]>> {
  const http = createHttpClient({ caPem: gw.caPem, maxSockets: 1, timeoutMs: 30_000 });
  try {
    const c = await NodeAcmeClient.connect(http, gw.directoryUrl);
    await c.register();
    const times: Record<Op, number[]> = { newOrder: [], finalize: [], ARI: [], revoke: [] };
    for (let i = 0; i < args.warmup + args.orders; i++) {
      await order(c, challenges, `${label}-${process.pid}-${i}.scale.test`, csrs[i % csrs.length]!, i < args.warmup ? null : times);
    }
    return times;
  } finally {
    http.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dns = await startDnsResponder();
  const challenges = await startChallengeServer();
  const results: Record<'empty' | 'filled', Record<Op, number[]>[]> = { empty: [], filled: [] };
  for (let r = 0; r < args.rounds; r++) {
    for (const which of ['empty', 'filled'] as const) {
      const gw = await startGatewayProcess({ sqlite: which === 'empty' ? null : args.db, dnsPort: dns.port, httpPort: challenges.port });
      try {
        results[which].push(await measureWithCsrs(gw, challenges, args, `${which[0]}${r}`));
      } finally {
        await gw.stop();
      }
      process.stderr.write(`round ${r + 1} ${which}: done\n`);
    }
  }
  await challenges.close();
  await dns.close();

  const rows: string[][] = [];
  for (const op of OPS) {
    const stat = (which: 'empty' | 'filled', p: 'p50' | 'p90') => median(results[which].map((t) => summarize(t[op])[p]));
    const mean = (which: 'empty' | 'filled') => median(results[which].map((t) => summarize(t[op]).mean));
    const [e50, f50] = [stat('empty', 'p50'), stat('filled', 'p50')];
    rows.push([op, e50.toFixed(2), stat('empty', 'p90').toFixed(2), mean('empty').toFixed(2), f50.toFixed(2), stat('filled', 'p90').toFixed(2), mean('filled').toFixed(2), `${(((f50 - e50) / e50) * 100).toFixed(1)}%`]);
  }
  process.stdout.write(
    `scale: ${args.orders} orders per database per round (+${args.warmup} warm-up), ${args.rounds} rounds, one client; ${args.db} vs an empty database; ` +
      `node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n` +
      `${table(['operation (ms)', 'empty p50', 'p90', 'mean', 'filled p50', 'p90', 'mean', 'p50 change'], rows, '   ')}\n` +
      '   (each figure: the median over the rounds of that round\'s percentile or mean)\n',
  );
}

/** measure() with a CSR for each order's own name (finalize checks CN/SAN against the order), all made before the clock starts. */
async function measureWithCsrs(gw: GatewayProcess, challenges: ChallengeServer, args: Args, label: string): Promise<Record<Op, number[]>> {
  const total = args.warmup + args.orders;
  const csrs = await Promise.all(
    Array.from({ length: total }, async (_, i) => {
      const { csrPem } = await makeCsr([`${label}-${process.pid}-${i}.scale.test`]);
      return Buffer.from(csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64').toString('base64url');
    }),
  );
  return measure(gw, challenges, csrs, { ...args }, label);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

main().catch((err: unknown) => {
  process.stderr.write(`scale: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
