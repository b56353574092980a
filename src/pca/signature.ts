import { createHmac } from 'node:crypto';

export interface SignatureV2Input {
  /** HTTP verb; upper-cased here. */
  method: string;
  /** The request-target exactly as sent: path including /api/v1, plus `?rawquery` when present. */
  uri: string;
  /** Milliseconds since the epoch as sent in x-ncp-apigw-timestamp. */
  timestamp: string | number;
  accessKey: string;
  secretKey: string;
}

/**
 * NCP API Gateway signature v2 (ncp-pca-api §1.3):
 * base64(HMAC-SHA256(secretKey, METHOD + " " + URI + "\n" + TIMESTAMP + "\n" + ACCESS_KEY)).
 * Bare LF separators, no trailing newline, the body is never signed, standard padded base64.
 */
export function signatureV2({ method, uri, timestamp, accessKey, secretKey }: SignatureV2Input): string {
  const stringToSign = `${method.toUpperCase()} ${uri}\n${String(timestamp)}\n${accessKey}`;
  return createHmac('sha256', Buffer.from(secretKey, 'utf8')).update(stringToSign, 'utf8').digest('base64');
}
