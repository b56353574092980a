import { X509Certificate } from 'node:crypto';
import type { KeyType } from '../acme/csr.js';
import type { Clock } from '../platform/clock.js';
import { periodInsideCa } from './ca-status.js';
import { PcaError } from './errors.js';
import { acmeKeyType, ncpKeyName } from './key-shape.js';
import type { LastAnswer } from './ncp-client.js';
import { ListWalkCheck } from './paging.js';
import { describePcaError } from './problems.js';
import type { PcaCaInfo, PcaClient } from './types.js';

// `acme-pca-gateway pca check` (issue 10): what an operator runs before going live against NAVER
// Cloud. It asks the PCA what the gateway will rely on and signs nothing: the clock skew against the
// API gateway's Date header (requests more than 5 minutes off are refused, ncp-pca-api §1.2), Get CA
// (§3.9: status, subject, key, end), the chain (§3.6) against the trust anchor, and the first list
// pages (§3.4: does the PCA honour pageNo, pca/paging.ts). Every failure names its cause and its fix;
// the exit code says which, in two families: misconfigured (10-19, the operator's settings are
// wrong) and not ready (20-29, the PCA or its CA cannot serve yet). Nothing here ever prints a key.

/** What went wrong, one per exit code (the README's "Going live with NAVER Cloud" lists them). */
export const CHECK_CAUSES = {
  credentials: { exitCode: 10, family: 'misconfigured' },
  permission: { exitCode: 11, family: 'misconfigured' },
  caTag: { exitCode: 12, family: 'misconfigured' },
  clockSkew: { exitCode: 13, family: 'misconfigured' },
  trustAnchor: { exitCode: 14, family: 'misconfigured' },
  caNotActive: { exitCode: 20, family: 'not ready' },
  caExpired: { exitCode: 21, family: 'not ready' },
  paging: { exitCode: 22, family: 'not ready' },
  unreachable: { exitCode: 23, family: 'not ready' },
  badAnswer: { exitCode: 24, family: 'not ready' },
} as const;

export type CheckCause = keyof typeof CHECK_CAUSES;

/** §1.2: the API gateway refuses a timestamp more than 5 minutes off its own clock. */
const MAX_SKEW_MS = 5 * 60_000;
/** Past this the check warns: one NTP hiccup away from the limit. */
const WARN_SKEW_MS = 60_000;
const DAY_MS = 86_400_000;

export interface CheckTarget {
  directory: string;
  endpoint: string;
  caTag: string;
  client: PcaClient & { lastAnswer(): LastAnswer | null };
  /** pca.trustAnchorFile's certificates; null: the chain's own root is the anchor. */
  trustAnchorPems: string[] | null;
  /** pca.keyTypes as the CA watch reads it (connect.ts keyRuleOf). */
  keyRule: 'ca' | readonly KeyType[];
  /** pca.period (days). */
  periodDays: number;
}

export interface CheckFailure {
  cause: CheckCause;
  exitCode: number;
  family: 'misconfigured' | 'not ready';
  message: string;
  fix: string;
}

export interface CheckReport {
  directory: string;
  endpoint: string;
  caTag: string;
  ok: boolean;
  failure: CheckFailure | null;
  warnings: string[];
  clock: { pcaDate: string | null; skewMs: number | null };
  ca: { status: string; caType: string | null; subject: string; key: string | null; notAfter: string; daysLeft: number; crlUrls: string[]; ocspUrls: string[] } | null;
  chain: { length: number; verifies: boolean; anchor: 'pca.trustAnchorFile' | "the chain's own root"; detail: string } | null;
  paging: { proven: boolean; detail: string; totalCnt: number; totalPageNo: number } | null;
  longestPeriodDays: number | null;
  keyTypes: string[] | null;
}

const fail = (cause: CheckCause, message: string, fix: string): CheckFailure => ({ cause, ...CHECK_CAUSES[cause], message, fix });

/** Runs every check of one PCA target; never throws for what the PCA answers. */
export async function checkPcaTarget(t: CheckTarget, clock: Clock): Promise<CheckReport> {
  const report: CheckReport = {
    directory: t.directory,
    endpoint: t.endpoint,
    caTag: t.caTag,
    ok: false,
    failure: null,
    warnings: [],
    clock: { pcaDate: null, skewMs: null },
    ca: null,
    chain: null,
    paging: null,
    longestPeriodDays: null,
    keyTypes: null,
  };
  const done = (failure: CheckFailure | null): CheckReport => ({ ...report, ok: failure === null, failure });

  // 1. Get CA, and the skew measured on its answer (whatever its status: a 401 has a Date too).
  let ca: PcaCaInfo;
  try {
    ca = await t.client.getCa();
  } catch (err) {
    const skew = measureSkew(t, report);
    if (skew !== null && Math.abs(skew) > MAX_SKEW_MS) return done(skewFailure(skew));
    return done(callFailure(err, t, 'Get CA'));
  }
  const skew = measureSkew(t, report);
  if (skew !== null && Math.abs(skew) > MAX_SKEW_MS) return done(skewFailure(skew));
  if (skew !== null && Math.abs(skew) > WARN_SKEW_MS) report.warnings.push(`this host's clock is ${formatSkew(skew)} the PCA gateway's: close to the 5 minute limit; check NTP`);
  if (skew === null) report.warnings.push("the PCA gateway's answer had no Date header: the clock skew could not be measured");

  const now = clock.now();
  const daysLeft = Math.floor((ca.notAfter.getTime() - now.getTime()) / DAY_MS);
  report.ca = {
    status: ca.status,
    caType: ca.caType,
    subject: ca.subject,
    key: ca.key ? ncpKeyName(ca.key) : ca.publicKeyAlgorithm || null,
    notAfter: ca.notAfter.toISOString(),
    daysLeft,
    crlUrls: ca.crlUrls,
    ocspUrls: ca.ocspUrls,
  };
  const caType = ca.key ? acmeKeyType(ca.key) : null;
  report.keyTypes = t.keyRule === 'ca' ? (caType ? [caType] : null) : [...t.keyRule];
  const longest = periodInsideCa(ca.notAfter, now);
  report.longestPeriodDays = Math.max(0, longest);
  if (longest >= 1 && t.periodDays > longest) report.warnings.push(`pca.period is ${t.periodDays} days; the CA ends in ${daysLeft} days, so the gateway asks for ${longest} at most`);
  if (t.keyRule === 'ca' && !caType) report.warnings.push(`the CA's key (${report.ca.key ?? 'unreadable'}) is not one the gateway can match a CSR to: set pca.keyTypes to what the CA signs`);

  // 2. The chain, against the trust anchor clients will be given.
  let chainFailure: CheckFailure | null = null;
  try {
    const pems = await t.client.chain();
    const verdict = verifyChain(pems, t.trustAnchorPems, ca.certPem);
    report.chain = { length: pems.length, verifies: verdict.ok, anchor: t.trustAnchorPems ? 'pca.trustAnchorFile' : "the chain's own root", detail: verdict.detail };
    if (!verdict.ok) {
      chainFailure = fail(
        'trustAnchor',
        `the CA chain (${pems.length} certificate${pems.length === 1 ? '' : 's'}) does not verify to ${report.chain.anchor}: ${verdict.detail}`,
        t.trustAnchorPems ? 'pca.trustAnchorFile must hold the root of this CA (Get CA chain, or the console\'s "download CA certificate")' : 'the PCA returned a chain that does not end in a root; set pca.trustAnchorFile to the root clients trust',
      );
    }
  } catch (err) {
    return done(callFailure(err, t, 'Get CA chain'));
  }

  // 3. The list's paging: page 1, then page 2 (asked even when the list has one page: a PCA that
  // honours pageNo answers page 2, empty; one that ignores it answers page 1 again).
  let pagingFailure: CheckFailure | null = null;
  try {
    const walk = new ListWalkCheck();
    const first = await t.client.listCerts(1);
    let problem = walk.page(1, first);
    let second = null;
    if (!problem) {
      second = await t.client.listCerts(2);
      problem = walk.page(2, second);
    }
    const unproven = !problem && second !== null && second.currentPageNo === null && (first.serials.length === 0 || second.serials.length === 0);
    const detail = problem
      ? problem
      : unproven
        ? 'the answers carry no currentPageNo and the list is too short to tell pages apart: paging could not be proven'
        : `page 1 lists ${first.serials.length} of ${first.totalCnt} certificates in ${first.totalPageNo} page(s); page 2 came back as page ${second?.currentPageNo ?? '?'}: pageNo is honoured`;
    report.paging = { proven: !problem && !unproven, detail, totalCnt: first.totalCnt, totalPageNo: first.totalPageNo };
    if (unproven) report.warnings.push(detail);
    if (problem) {
      pagingFailure = fail(
        'paging',
        `the certificate list's paging does not prove itself: ${problem}`,
        'the gateway still issues, but a reconciliation or an audit that needs more than page 1 stays incomplete (no order is signed twice; some may end invalid after their deadline): report it to NAVER Cloud support, and keep pca.issuanceDeadlineMs generous',
      );
    }
  } catch (err) {
    return done(callFailure(err, t, 'List issued certificates'));
  }

  // 4. The CA itself: only an ACTIVE CA signs; an ending one cannot give a day.
  if (ca.status !== 'ACTIVE') {
    return done(
      fail(
        'caNotActive',
        `the CA ${t.caTag} is ${ca.status}, not ACTIVE: it signs nothing; the gateway reports not ready and orders wait`,
        'enable the CA in the NAVER Cloud console (Private CA > the CA > status), or point pca.caTag at an active CA',
      ),
    );
  }
  if (longest < 1) {
    return done(fail('caExpired', `the CA's certificate ends at ${ca.notAfter.toISOString()}: it cannot sign a certificate valid for a day`, 'renew the CA (or create a new one and point pca.caTag at it)'));
  }
  return done(chainFailure ?? pagingFailure);
}

function measureSkew(t: CheckTarget, report: CheckReport): number | null {
  const last = t.client.lastAnswer();
  if (!last?.serverDate) return null;
  // The Date header has whole seconds: compare with the middle of the exchange, less half a second.
  const ours = (last.sentAt + last.receivedAt) / 2 - 500;
  const skew = Math.round(last.serverDate.getTime() - ours);
  report.clock = { pcaDate: last.serverDate.toISOString(), skewMs: skew };
  return skew;
}

const formatSkew = (ms: number): string => `${(Math.abs(ms) / 1000).toFixed(0)} s ${ms > 0 ? 'behind' : 'ahead of'}`;

function skewFailure(skew: number): CheckFailure {
  return fail(
    'clockSkew',
    `this host's clock is ${formatSkew(skew)} the PCA gateway's (its Date header): NCP refuses requests more than 5 minutes off (x-ncp-apigw-timestamp)`,
    'synchronise this host with NTP (timedatectl set-ntp true; chronyc tracking), then run pca check again',
  );
}

function callFailure(err: unknown, t: CheckTarget, what: string): CheckFailure {
  if (!(err instanceof PcaError)) return fail('badAnswer', `${what} failed: ${(err as Error).message}`, 'run again with logging.level debug and report it');
  const said = describePcaError(err) + (err.pcaDetails ? ` (${err.pcaDetails.slice(0, 200)})` : '');
  switch (err.reason) {
    case 'authentication':
      if (err.code === '210' || err.httpStatus === 403) {
        return fail('permission', `${what}: the PCA gateway knows the API key but refused the call (${said})`, "give the sub account the Private CA permissions the gateway needs (README, \"Going live with NAVER Cloud\"), and add it to the CA's users");
      }
      return fail(
        'credentials',
        `${what}: the PCA gateway refused the API key (${said})`,
        'pca.accessKey (NCP_ACCESS_KEY, pca.accessKeyFile) must be the Access Key ID and pca.secretKey (NCP_SECRET_KEY, pca.secretKeyFile) the Secret Key of the same API key of the sub account; check the key is enabled',
      );
    case 'unknownCa':
    case 'certificateNotFound':
      return fail('caTag', `${what}: the PCA knows no CA ${t.caTag} at ${t.endpoint} (${said})`, 'pca.caTag must be the caTag shown by the NAVER Cloud console (or GET /api/v1/ca), 8 hex - 8 hex; check pca.endpoint is the site of that CA (public, gov)');
    case 'unavailable':
      return fail('unreachable', `${what}: the PCA did not answer usefully (${said})`, `check that ${t.endpoint} is reachable from this host (proxy, firewall, DNS) and try again; a 429 means the API gateway's rate limit`);
    default:
      return fail('badAnswer', `${what}: the PCA's answer cannot be used (${said})`, 'check pca.endpoint points at the NCP PCA API (https://pca.apigw.ntruss.com, or the gov site), and report it');
  }
}

/**
 * Whether the chain verifies, link by link, to an anchor, and holds the CA of Get CA. The order of
 * the chain's blocks is undocumented (ncp-pca-api §4.3): issuer first, or root first.
 */
function verifyChain(pems: string[], anchors: string[] | null, caCertPem: string | null): { ok: boolean; detail: string } {
  let certs: X509Certificate[];
  try {
    certs = pems.map((p) => new X509Certificate(p));
  } catch {
    return { ok: false, detail: 'a certificate of the chain does not parse' };
  }
  const given = verifyOrdered(certs, anchors, caCertPem);
  if (given.ok || certs.length < 2) return given;
  const reversed = verifyOrdered([...certs].reverse(), anchors, caCertPem);
  return reversed.ok ? reversed : given;
}

function verifyOrdered(certs: X509Certificate[], anchors: string[] | null, caCertPem: string | null): { ok: boolean; detail: string } {
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i]!.checkIssued(certs[i + 1]!) || !certs[i]!.verify(certs[i + 1]!.publicKey)) return { ok: false, detail: `certificate ${i + 1} is not signed by certificate ${i + 2}` };
  }
  const last = certs[certs.length - 1]!;
  const anchorCerts = anchors ? anchors.map((p) => new X509Certificate(p)) : last.checkIssued(last) ? [last] : [];
  if (anchorCerts.length === 0) return { ok: false, detail: 'the chain does not end in a self-signed root' };
  const anchored = anchorCerts.some((a) => a.fingerprint256 === last.fingerprint256 || (last.checkIssued(a) && last.verify(a.publicKey)));
  if (!anchored) return { ok: false, detail: `its last certificate (${last.subject.replace(/\n/g, ', ')}) is neither the anchor nor signed by it` };
  if (caCertPem) {
    const caFp = new X509Certificate(caCertPem).fingerprint256;
    if (!certs.some((c) => c.fingerprint256 === caFp)) return { ok: false, detail: "the CA certificate of Get CA is not in the chain" };
  }
  return { ok: true, detail: `${certs.length} certificate(s), each signed by the next, ending at ${anchors ? 'the configured anchor' : 'a self-signed root'}` };
}
