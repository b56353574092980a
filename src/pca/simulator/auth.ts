import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Clock } from '../../platform/clock.js';
import { signatureV2 } from '../signature.js';

export interface NcpAuthConfig {
  accessKey: string;
  secretKey: string;
  clock: Clock;
}

/** ncp-pca-api §1.2: requests more than 5 minutes off gateway time are rejected. */
const MAX_SKEW_MS = 5 * 60_000;

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

const safeEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * Checks the API Gateway headers (ncp-pca-api §1.2–1.3) over `METHOD + " " + request-target` exactly as
 * received, so a client that signs one form of a path and sends another fails here as it would at NCP.
 * The -v1 header is accepted too: NAVER's Go SDK sends the same HMAC-SHA256 under that name (§4.6).
 * Returns undefined when authentic, else a reason for the `details` field (never the expected value).
 */
export function checkNcpAuth(method: string, requestTarget: string, headers: IncomingHttpHeaders, cfg: NcpAuthConfig): string | undefined {
  const timestamp = header(headers, 'x-ncp-apigw-timestamp');
  const accessKey = header(headers, 'x-ncp-iam-access-key');
  const signature = header(headers, 'x-ncp-apigw-signature-v2') ?? header(headers, 'x-ncp-apigw-signature-v1');
  if (!timestamp || !accessKey || !signature) return 'missing x-ncp-apigw-timestamp, x-ncp-iam-access-key or x-ncp-apigw-signature-v2';
  if (!/^\d{1,16}$/.test(timestamp)) return 'invalid timestamp';
  if (Math.abs(cfg.clock.nowMs() - Number(timestamp)) > MAX_SKEW_MS) return 'timestamp is out of the allowed range';
  if (!safeEqual(accessKey, cfg.accessKey)) return 'invalid access key';
  const expected = signatureV2({ method, uri: requestTarget, timestamp, accessKey, secretKey: cfg.secretKey });
  if (!safeEqual(signature, expected)) return 'signature mismatch';
  return undefined;
}
