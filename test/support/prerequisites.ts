import net from 'node:net';

// A test that needs something the machine may lack (the IPv6 loopback, a third-party binary) may
// skip on a developer's machine, loudly, but never in CI: .ci/run sets ACME_E2E_REQUIRE_BINARIES=1
// and CI services set CI, and there a missing prerequisite is a failure, so a broken CI image cannot
// make a test pass by not running it.

export function prerequisitesRequired(): boolean {
  const ci = process.env.CI;
  return process.env.ACME_E2E_REQUIRE_BINARIES === '1' || (ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false');
}

/**
 * For a test that cannot run without `what`: throws under CI (the test fails), otherwise warns and
 * skips it (a TestContext's skip, which does not return).
 */
export function missingPrerequisite(what: string, ctx: { skip(note?: string): never }): never {
  if (prerequisitesRequired()) {
    throw new Error(`FAILED: ${what} is not available, and CI (ACME_E2E_REQUIRE_BINARIES=1 or CI) requires it`);
  }
  console.warn(`\n*** SKIPPED: ${what} is not available on this machine\n`);
  return ctx.skip(`${what} is not available`);
}

/** Whether a TCP server can listen on ::1 here (some containers have no IPv6 loopback). */
export function ipv6LoopbackUsable(): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(0, '::1', () => srv.close(() => resolve(true)));
  });
}
