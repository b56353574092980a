import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// Third-party ACME clients are optional on a developer machine but mandatory in CI:
// ACME_E2E_REQUIRE_BINARIES=1 (set by .ci/run) turns "skip" into a failure, so a broken CI image
// cannot make the interop suite silently pass.

export interface BinaryCheck {
  name: string;
  /** Absolute path when found on PATH. */
  path: string | undefined;
  /** True when the tests that need the binary should be skipped. */
  skip: boolean;
}

export function findOnPath(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export function binariesRequired(): boolean {
  return process.env.ACME_E2E_REQUIRE_BINARIES === '1';
}

/**
 * Call at collection time: `const certbot = requireBinary('certbot'); describe.skipIf(certbot.skip)(...)`.
 * Missing + required → throws, which fails the whole test file.
 */
export function requireBinary(name: string): BinaryCheck {
  const found = findOnPath(name);
  if (found) return { name, path: found, skip: false };
  if (binariesRequired()) {
    throw new Error(`FAILED: ${name} not installed, and ACME_E2E_REQUIRE_BINARIES=1 requires it (apt-get install ${name})`);
  }
  console.warn(`\n********************************************************\n*** SKIPPED: ${name} not installed (tests that need it are skipped)\n********************************************************\n`);
  return { name, path: undefined, skip: true };
}

/**
 * Like requireBinary, for a library that a probe command must load (Debian's python3-acme through
 * /usr/bin/python3, ruby-acme-client through ruby): the probe's exit code decides.
 */
export function requireLibrary(name: string, command: string, probeArgs: readonly string[], aptPackage: string): BinaryCheck {
  const probe = spawnSync(command, probeArgs, { stdio: 'ignore', timeout: 30_000 });
  if (probe.status === 0) return { name, path: command, skip: false };
  if (binariesRequired()) {
    throw new Error(`FAILED: ${name} cannot be loaded by ${command}, and ACME_E2E_REQUIRE_BINARIES=1 requires it (apt-get install ${aptPackage})`);
  }
  console.warn(`\n********************************************************\n*** SKIPPED: ${name} not installed (apt-get install ${aptPackage})\n********************************************************\n`);
  return { name, path: undefined, skip: true };
}
