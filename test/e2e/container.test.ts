import fs from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ensureGatewayBuilt, repoRoot } from './support/build.js';
import { httpRequest, sleep } from './support/http.js';
import { useHarness } from './support/harness.js';

// The container image without a Docker engine (none runs here): the Dockerfile's build stage runs
// exactly `npm ci` and `npm run build` (what .ci/run and the e2e build step run), and its CMD and
// HEALTHCHECK are run here as written, in a directory laid out like the image's /app, with a
// configuration made from config/docker.yaml (its /data and ports moved to this test's), the admin
// token from the environment. The HEALTHCHECK must pass once the gateway is ready.

const h = useHarness('container.test.ts');

interface Instruction {
  stage: number;
  op: string;
  args: string;
}

/** The Dockerfile's instructions, with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  let stage = -1;
  return joined.map((line) => {
    const [op, ...rest] = line.split(/\s+/);
    if (op!.toUpperCase() === 'FROM') stage++;
    return { stage, op: op!.toUpperCase(), args: rest.join(' ') };
  });
}

const dockerfile = instructions(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'));
const execForm = (args: string): string[] => JSON.parse(args.replace(/^.*?(?=\[)/, '')) as string[];

describe('Dockerfile', () => {
  it('two stages; the build runs npm ci and npm run build; the image runs as a non-root user with /data as a volume', () => {
    const runs = dockerfile.filter((i) => i.op === 'RUN' && i.stage === 0).map((i) => i.args);
    expect(runs).toContain('npm ci');
    expect(runs).toContain('npm run build && npm prune --omit=dev');
    expect(dockerfile.filter((i) => i.op === 'FROM')).toHaveLength(2);
    const final = dockerfile.filter((i) => i.stage === 1);
    expect(final.find((i) => i.op === 'USER')?.args).toBe('node');
    expect(final.find((i) => i.op === 'VOLUME')?.args).toBe('["/data"]');
    expect(final.find((i) => i.op === 'HEALTHCHECK')?.args).toMatch(/127\.0\.0\.1:14002\/readyz/);
    // The package scripts are what the Dockerfile names.
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.json');
  });

  it('the CMD, as written, serves with the image configuration and the environment; the HEALTHCHECK passes', async () => {
    await ensureGatewayBuilt();
    const app = h.tempDir('image-app');
    const data = h.tempDir('image-data');
    // /app as the image lays it out: what the final stage COPYs.
    for (const entry of ['node_modules', 'dist', 'migrations', 'package.json']) fs.symlinkSync(path.join(repoRoot, entry), path.join(app, entry));
    const [acmePort, adminPort, simPort] = [await h.freePort(), await h.freePort(), await h.freePort()];
    const image = parse(fs.readFileSync(path.join(repoRoot, 'config/docker.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
    const moved = JSON.parse(JSON.stringify(image).replaceAll('/data', data).replace('0.0.0.0:14000', `127.0.0.1:${acmePort}`).replace('0.0.0.0:14002', `127.0.0.1:${adminPort}`)) as typeof image;
    moved.server!.externalUrl = `https://localhost:${acmePort}`;
    moved.simulator = { ...moved.simulator, listen: `127.0.0.1:${simPort}` };
    fs.mkdirSync(path.join(app, 'config'));
    fs.writeFileSync(path.join(app, 'config/docker.yaml'), stringify(moved));

    const cmd = execForm(dockerfile.find((i) => i.op === 'CMD')!.args);
    // node, its young-generation flag (README, Operations), then the built entry point.
    expect(cmd.slice(0, 3)).toEqual(['node', '--max-semi-space-size=32', 'dist/src/main.js']);
    const token = 'container-test-token-0123456789';
    const proc = h.spawn('image CMD', process.execPath, cmd.slice(1), { cwd: app, env: { ...process.env, NODE_ENV: 'production', ACME_ADMIN_TOKEN: token } });
    const healthcheck = execForm(dockerfile.find((i) => i.op === 'HEALTHCHECK')!.args.replace(/^.*?CMD\s+/, '')).map((a) => a.replace('127.0.0.1:14002', `127.0.0.1:${adminPort}`));
    const deadline = Date.now() + 60_000;
    let last = 'not run';
    for (;;) {
      if (!proc.isRunning()) throw new Error(`the CMD exited:\n${proc.output()}`);
      const r = await h.run(process.execPath, healthcheck.slice(1), { cwd: app, timeoutMs: 10_000 });
      if (r.code === 0) break;
      last = `exit ${r.code}`;
      if (Date.now() > deadline) throw new Error(`HEALTHCHECK never passed (${last}):\n${proc.output()}`);
      await sleep(500);
    }
    // The token came from the environment: the file stays uncreated, and the API takes the token.
    expect(fs.existsSync(path.join(data, 'admin.token'))).toBe(false);
    const metrics = await httpRequest(`http://127.0.0.1:${adminPort}/metrics`, { headers: { Authorization: `Bearer ${token}` }, timeoutMs: 5_000 });
    expect(metrics.status).toBe(200);
    // State went to the volume.
    expect(fs.existsSync(path.join(data, 'gateway.sqlite'))).toBe(true);
    expect(fs.existsSync(path.join(data, 'pca-simulator', 'root.pem'))).toBe(true);
    const exit = await proc.stop(15_000);
    expect(exit.signal).not.toBe('SIGKILL');
  });
});
