// Command-line flags of `npm run bench -- ...`. Unknown flags are an error, so a typo never runs a
// benchmark with silently different settings.

export interface BenchArgs {
  orders: number;
  concurrency: number;
  warmup: number;
  pollMs: number;
  timeLimitS: number;
  tls: boolean;
  against: 'gateway' | 'pebble';
  freshAccounts: boolean;
  profile: boolean;
  out: string | null;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [flags]
  --orders N          complete orders to run (default 200)
  --concurrency N     concurrent ACME clients (default 16)
  --warmup N          orders run first and not measured (default 10; 0 = none)
  --poll-ms N         interval between status polls (default 50)
  --time-limit S      stop starting orders after S seconds per run (default 300)
  --tls               serve the gateway over https with its tls.mode "pca" certificate
  --against pebble    also run the same load against /usr/bin/pebble and compare
  --fresh-accounts    a new account key for every order (default: one per client)
  --profile           CPU-profile the gateway during the measured run (bench/results/gateway.cpuprofile)
  --out FILE          JSON results file (default bench/results/latest.json; "-" = none)`;

export function parseArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = {
    orders: 200,
    concurrency: 16,
    warmup: 10,
    pollMs: 50,
    timeLimitS: 300,
    tls: false,
    against: 'gateway',
    freshAccounts: false,
    profile: false,
    out: 'bench/results/latest.json',
    help: false,
  };
  const int = (flag: string, value: string | undefined, min: number, max: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} needs an integer from ${min} to ${max}, got ${value ?? '(nothing)'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--orders':
        a.orders = int(flag, value(), 1, 100_000);
        break;
      case '--concurrency':
        a.concurrency = int(flag, value(), 1, 256);
        break;
      case '--warmup':
        a.warmup = int(flag, value(), 0, 10_000);
        break;
      case '--poll-ms':
        a.pollMs = int(flag, value(), 1, 10_000);
        break;
      case '--time-limit':
        a.timeLimitS = int(flag, value(), 1, 3_600);
        break;
      case '--tls':
        a.tls = true;
        break;
      case '--against': {
        const v = value();
        if (v !== 'pebble' && v !== 'gateway') throw new Error(`--against takes "pebble", got ${v ?? '(nothing)'}`);
        a.against = v;
        break;
      }
      case '--fresh-accounts':
        a.freshAccounts = true;
        break;
      case '--profile':
        a.profile = true;
        break;
      case '--out': {
        const v = value();
        if (!v) throw new Error('--out needs a file name (or "-")');
        a.out = v === '-' ? null : v;
        break;
      }
      case '--help':
      case '-h':
        a.help = true;
        break;
      default:
        throw new Error(`unknown flag ${arg}\n${USAGE}`);
    }
  }
  return a;
}
