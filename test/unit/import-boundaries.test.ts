import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The dependency flow of ../shared/ARCHITECTURE.md, checked on every `npm test`: each folder under
// src/ may import only the folders listed for it (type-only imports count too), so a wrong-way
// import fails CI instead of slowly turning the layers into a ball of mud.

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Which of our folders each folder may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  http: ['auth', 'services', 'acme', 'platform', 'config'],
  auth: ['acme', 'store', 'platform'],
  services: ['acme', 'store', 'pca', 'platform'],
  jobs: ['acme', 'store', 'validation', 'pca', 'platform'],
  validation: ['acme', 'platform'],
  pca: ['acme', 'platform'],
  store: ['acme', 'platform'],
  acme: [],
  platform: [],
  config: [],
  // The operations side (issue 13): the admin listener's app, the console, the read model.
  admin: ['services', 'acme', 'store', 'platform', 'config'],
};
/** Construction sites and entry points: they may import anything. */
const WIRING = new Set(['deps.ts', 'deps-ops.ts', 'main.ts', 'cli']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Every module specifier of static imports/exports and dynamic import() calls. */
export function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [/\b(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]!);
  return found;
}

const layerOf = (file: string): string => relative(SRC, file).split(sep)[0]!;

function violations(): string[] {
  const out: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    if (WIRING.has(from)) continue;
    const allowed = ALLOWED[from];
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue; // packages and node: builtins
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC + sep)) {
        out.push(`${relative(SRC, file)} imports ${spec}, outside src/`);
        continue;
      }
      const to = layerOf(target);
      if (to === from) continue;
      if (!allowed) out.push(`${relative(SRC, file)}: folder "${from}" has no rule in the flow`);
      else if (!allowed.includes(to)) out.push(`${relative(SRC, file)} → ${relative(SRC, target)} (${from} may import only ${allowed.join(', ') || 'nothing of ours'})`);
    }
  }
  return out;
}

describe('import boundaries (ARCHITECTURE.md "The flow")', () => {
  it('reads static, type-only, re-export and dynamic imports', () => {
    const specs = importSpecifiers(
      `import a from './a.js';\nimport type { B } from "../b.js";\nexport { c } from './c.js';\nimport './side.js';\nconst d = await import('./d.js');\nimport {\n  e,\n  f,\n} from '../e.js';`,
    );
    expect(specs.sort()).toEqual(['../b.js', '../e.js', './a.js', './c.js', './d.js', './side.js']);
  });

  it('no module imports against the flow', () => {
    expect(violations()).toEqual([]);
  });
});
