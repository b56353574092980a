import { isIP } from 'node:net';

// IP identifier helpers (RFC 8738). Comparisons go through the 4- or 16-byte form so that any valid
// textual spelling of an IPv6 address ("::1", "0:0::0:1") matches any other.

/** The address as 4 or 16 bytes, or undefined when it is not an IP literal. */
export function ipToBytes(ip: string): Buffer | undefined {
  const family = isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6) return undefined;
  let text = ip;
  // An embedded IPv4 tail ("::ffff:192.0.2.1") becomes two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail === undefined ? [] : tail ? tail.split(':') : [];
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  if (groups.length !== 8) return undefined;
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  return bytes;
}

/** True when both strings are IP literals naming the same address. */
export function sameIp(a: string, b: string): boolean {
  const x = ipToBytes(a);
  const y = ipToBytes(b);
  return x !== undefined && y !== undefined && x.equals(y);
}

/**
 * RFC 8738 §6: the TLS SNI for an IP identifier is its reverse-DNS name (RFC 1035 §3.5 "in-addr.arpa",
 * RFC 3596 §2.5 nibble "ip6.arpa"), since SNI cannot carry an IP address (RFC 6066 §3).
 */
export function reverseDnsName(ip: string): string {
  const bytes = ipToBytes(ip);
  if (!bytes) throw new Error(`not an IP address: ${ip}`);
  if (bytes.length === 4) return [...bytes].reverse().join('.') + '.in-addr.arpa';
  const nibbles = [...bytes].flatMap((b) => [b >> 4, b & 0x0f]).reverse();
  return nibbles.map((n) => n.toString(16)).join('.') + '.ip6.arpa';
}

/** "host:port" for details and logs, with IPv6 literals in brackets. */
export function formatHostPort(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
