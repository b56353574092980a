import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeResult, runCommand } from './process.js';

// The e2e suite runs the *built* gateway (dist/), exactly as an operator would. Each test file calls
// ensureGatewayBuilt() in beforeAll: it runs `npm run build` when dist/src/main.js is missing or older
// than any source file, so a clean checkout works after `npm ci` and later files reuse the build.
// ACME_E2E_SKIP_BUILD=1 skips the check (dist must then exist). ACME_E2E_GATEWAY_ENTRY=<file.js> runs
// another build of the gateway (same CLI contract) and skips the build step.

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const builtEntry = path.join(repoRoot, 'dist/src/main.js');

export function gatewayEntry(): string {
  return process.env.ACME_E2E_GATEWAY_ENTRY ? path.resolve(process.env.ACME_E2E_GATEWAY_ENTRY) : builtEntry;
}

function newestSourceMtime(dir: string): number {
  let newest = 0;
  if (!fs.existsSync(dir)) return newest;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

function buildIsFresh(): boolean {
  if (!fs.existsSync(builtEntry)) return false;
  const built = fs.statSync(builtEntry).mtimeMs;
  const sources = Math.max(
    newestSourceMtime(path.join(repoRoot, 'src')),
    newestSourceMtime(path.join(repoRoot, 'bench')),
    fs.statSync(path.join(repoRoot, 'tsconfig.json')).mtimeMs,
  );
  return built >= sources;
}

export async function ensureGatewayBuilt(): Promise<void> {
  if (process.env.ACME_E2E_SKIP_BUILD === '1' || process.env.ACME_E2E_GATEWAY_ENTRY) {
    const entry = gatewayEntry();
    if (!fs.existsSync(entry)) throw new Error(`gateway entry ${entry} does not exist; run \`npm run build\` first`);
    return;
  }
  if (buildIsFresh()) return;
  const r = await runCommand('npm', ['run', 'build'], { cwd: repoRoot, timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`\`npm run build\` failed, cannot run the gateway e2e tests:\n${describeResult(r)}`);
  if (!fs.existsSync(builtEntry)) {
    throw new Error(`\`npm run build\` succeeded but ${builtEntry} is missing (is src/main.ts there?)`);
  }
  // Touch the entry so the freshness check holds for the next test file even if tsc left an
  // unchanged output file alone.
  const now = new Date();
  fs.utimesSync(builtEntry, now, now);
}
