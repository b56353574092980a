import { availableParallelism, loadavg } from 'node:os';
import { startGatewayProcess } from './gateway-process.js';
import { startChallengeServer } from './load/challenge-server.js';
import { startDnsResponder } from './load/dns-responder.js';
import { createHttpClient, type HttpClient } from './load/http.js';
import { NodeAcmeClient } from './node-acme.js';
import { table } from './stats.js';

// `node dist/bench/memory.js [--clients 1000] [--steps 4] [--hold-s 10]`: the gateway's resident
// memory while many clients hold pending orders. The gateway runs in its own process as vs-pebble.sh
// runs it; here, in steps up to --clients, each new client opens its own keep-alive HTTPS
// connection, registers an account and creates an order, and every client then keeps polling its
// order (POST-as-GET, once a second) for --hold-s seconds, so all of them are connected and
// pending at once. RSS is read from /proc at each step, at the peak of the hold, and after the
// clients have gone. A benchmark, never a test.

interface Args {
  clients: number;
  steps: number;
  holdS: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { clients: 1000, steps: 4, holdS: 10 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = Number(argv[++i]);
    if (flag === '--clients') a.clients = value;
    else if (flag === '--steps') a.steps = value;
    else if (flag === '--hold-s') a.holdS = value;
    else throw new Error(`unknown flag ${flag}; usage: node dist/bench/memory.js [--clients N] [--steps N] [--hold-s S]`);
  }
  return a;
}

interface Holder {
  http: HttpClient;
  client: NodeAcmeClient;
  orderUrl: string;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dns = await startDnsResponder();
  const challenges = await startChallengeServer();
  // Every client is 127.0.0.1 with an account of its own: newAccountsPerIp (100 an hour by default)
  // exists to stop exactly that, so the limits are off here; what is measured is memory.
  const gw = await startGatewayProcess({
    sqlite: null,
    dnsPort: dns.port,
    httpPort: challenges.port,
    extraConfig: ['rateLimits: { newOrdersPerAccount: 0, newAccountsPerIp: 0, failedValidationsPerIdentifier: 0, pendingOrdersPerAccount: 0, concurrentValidationsPerAccount: 0 }'],
  });
  const rows: string[][] = [];
  const sample = (what: string, clients: number) => rows.push([what, String(clients), gw.rssMiB().toFixed(1)]);
  const holders: Holder[] = [];
  try {
    await new Promise((r) => setTimeout(r, 1_000));
    sample('idle, after start', 0);
    for (let step = 1; step <= args.steps; step++) {
      const target = Math.round((args.clients * step) / args.steps);
      // New clients join 50 at a time: every one its own connection, account and pending order.
      while (holders.length < target) {
        const batch = Math.min(50, target - holders.length);
        holders.push(
          ...(await Promise.all(
            Array.from({ length: batch }, async (_, k) => {
              const http = createHttpClient({ caPem: gw.caPem, maxSockets: 1, timeoutMs: 60_000 });
              const client = await NodeAcmeClient.connect(http, gw.directoryUrl);
              await client.register();
              const n = holders.length + k;
              const created = await client.post(client.dir.newOrder!, { identifiers: [{ type: 'dns', value: `hold-${n}.memory.test` }] });
              return { http, client, orderUrl: created.headers.location as string };
            }),
          )),
        );
      }
      sample(`${target} clients with a pending order each`, target);
    }
    // Every client polls its order once a second, all connected at once.
    let peak = 0;
    let polls = 0;
    const until = Date.now() + args.holdS * 1000;
    await Promise.all(
      holders.map(async (h, i) => {
        await new Promise((r) => setTimeout(r, (i * 1000) / holders.length));
        while (Date.now() < until) {
          await h.client.post(h.orderUrl, null);
          polls++;
          peak = Math.max(peak, gw.rssMiB());
          await new Promise((r) => setTimeout(r, 1000));
        }
      }),
    );
    rows.push([`peak while all ${holders.length} poll once a second (${polls} polls)`, String(holders.length), peak.toFixed(1)]);
    for (const h of holders) h.http.close();
    await new Promise((r) => setTimeout(r, 6_000)); // past the listener's keep-alive timeout
    sample('the clients gone (connections closed)', 0);
  } finally {
    for (const h of holders) h.http.close();
    await gw.stop();
    await challenges.close();
    await dns.close();
  }
  process.stdout.write(
    `memory: the gateway process (node dist/src/main.js serve, SQLite, embedded simulator, tls.mode pca); node ${process.version}, ` +
      `${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n${table(['moment', 'clients', 'RSS MiB'], rows, '   ')}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`memory: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
