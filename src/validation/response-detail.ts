// What a problem detail may say about what a validated server sent. The client reads the detail, and
// the server the validator reached may be one it was redirected to inside the network, so the
// validator must not become a way to read internal pages (issue 9): a body is quoted only when it
// has the shape of a key authorization (RFC 8555 §8.1, base64url token "." base64url thumbprint),
// which is what a client needs to see to fix a wrong token or account key; anything else is
// described by size and media type. URLs that came from a Location header lose their query.

/** token "." base64url(SHA-256 JWK thumbprint) — RFC 8555 §8.1, RFC 7638 (43 characters). */
const KEY_AUTHORIZATION_SHAPE = /^[A-Za-z0-9_-]{1,128}\.[A-Za-z0-9_-]{43}$/;

/** RFC 9110 §8.3.1 media type (type "/" subtype), nothing else. */
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]{1,32}\/[A-Za-z0-9!#$&^_.+-]{1,64}$/;

export function looksLikeKeyAuthorization(text: string): boolean {
  return KEY_AUTHORIZATION_SHAPE.test(text);
}

export interface ReceivedBody {
  body: Buffer;
  bodyTooLarge: boolean;
  contentType?: string;
  declaredLength?: number;
}

/**
 * "a 2 KiB text/html body", "an empty body", "a text/html body of more than 8 KiB" (read up to
 * `limit` bytes). Never the content; the media type only when it is a plain type/subtype token.
 */
export function describeBody(res: ReceivedBody, limit: number): string {
  const media = mediaTypeOf(res.contentType);
  const typed = media ? ` ${media}` : '';
  if (res.bodyTooLarge) {
    if (res.declaredLength !== undefined) return `a ${sizeText(res.declaredLength)}${typed} body`;
    return `a${typed} body of more than ${sizeText(limit).replace('-byte', ' bytes')}`;
  }
  if (res.body.length === 0) return `an empty${typed} body`;
  return `a ${sizeText(res.body.length)}${typed} body`;
}

function mediaTypeOf(contentType: string | undefined): string | undefined {
  const media = contentType?.split(';')[0]?.trim().toLowerCase();
  return media && MEDIA_TYPE.test(media) ? media : undefined;
}

/** 37 → "37-byte", 2048 → "2 KiB", 1536 → "1.5 KiB", 3 MiB → "3 MiB". */
export function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes}-byte`;
  const [value, unit] = bytes < 1024 * 1024 ? [bytes / 1024, 'KiB'] : [bytes / (1024 * 1024), 'MiB'];
  const shown = value < 10 ? value.toFixed(1).replace(/\.0$/, '') : Math.round(value).toString();
  return `${shown} ${unit}`;
}

/**
 * A URL for a detail: http(s) as scheme, host, port and path (cut to 160 characters), the query
 * replaced by "?…" since it may carry what an internal redirect put there; other schemes by name.
 */
export function urlForDetail(url: URL): string {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `a ${url.protocol} URL`;
  const path = url.pathname.length > 160 ? `${url.pathname.slice(0, 160)}…` : url.pathname;
  return `${url.protocol}//${url.host}${path}${url.search ? '?…' : ''}`;
}
