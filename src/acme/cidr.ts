import { isIP } from 'node:net';

// IP addresses and CIDR ranges as numbers, for the address policy of the validator (issue 9) and the
// IP ranges of the issuance policy. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, RFC 4291 §2.5.5.2)
// and NAT64 addresses (64:ff9b::a.b.c.d, RFC 6052) are read as the IPv4 address they reach, so a
// rule written for 169.254.0.0/16 also stops ::ffff:169.254.169.254.

export interface ParsedAddress {
  family: 4 | 6;
  /** The address as an unsigned integer (32 or 128 bits). */
  value: bigint;
}

export interface Cidr {
  family: 4 | 6;
  /** Network address with the host bits cleared. */
  network: bigint;
  prefix: number;
  /** As written in the configuration (for details that name the rule). */
  text: string;
}

const V4_MAPPED_PREFIX = 0xffffn << 32n;
/** RFC 6052 NAT64 well-known prefix 64:ff9b::/96: a NAT64 gateway turns it into the IPv4 address it carries. */
const NAT64_PREFIX = 0x64ff9bn << 96n;

/** Parses an address; null when it is not one. An IPv4-mapped IPv6 address comes back as IPv4. */
export function parseAddress(text: string): ParsedAddress | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const family = isIP(bare);
  if (family === 4) return { family: 4, value: ipv4ToBigInt(bare) };
  if (family !== 6 || bare.includes('%')) return null;
  const value = ipv6ToBigInt(bare);
  if (value >> 32n === 0xffffn) return { family: 4, value: value - V4_MAPPED_PREFIX };
  if (value >> 32n === NAT64_PREFIX >> 32n) return { family: 4, value: value - NAT64_PREFIX };
  return { family: 6, value };
}

/** "10.0.0.0/8", "fe80::/10", or a bare address (a /32 or /128). Throws on anything else. */
export function parseCidr(text: string): Cidr {
  const [addr, prefixText, extra] = text.trim().split('/');
  if (extra !== undefined || !addr) throw new Error(`"${text}" is not a CIDR range`);
  const family = isIP(addr);
  if (family !== 4 && family !== 6) throw new Error(`"${text}" is not a CIDR range`);
  const bits = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? String(bits)) || !Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
    throw new Error(`"${text}": the prefix length must be 0 to ${bits}`);
  }
  const raw = family === 4 ? ipv4ToBigInt(addr) : ipv6ToBigInt(addr);
  // An IPv4-mapped range (::ffff:0:0/96 and longer) is the IPv4 range it maps.
  if (family === 6 && prefix >= 96 && raw >> 32n === 0xffffn) {
    const p4 = prefix - 96;
    return { family: 4, network: maskOf(raw - V4_MAPPED_PREFIX, p4, 32), prefix: p4, text };
  }
  return { family, network: maskOf(raw, prefix, bits), prefix, text };
}

export function cidrContains(cidr: Cidr, address: ParsedAddress): boolean {
  if (cidr.family !== address.family) return false;
  const bits = cidr.family === 4 ? 32 : 128;
  return maskOf(address.value, cidr.prefix, bits) === cidr.network;
}

function maskOf(value: bigint, prefix: number, bits: number): bigint {
  if (prefix === 0) return 0n;
  const hostBits = BigInt(bits - prefix);
  return (value >> hostBits) << hostBits;
}

function ipv4ToBigInt(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) + BigInt(Number(octet)), 0n);
}

function ipv6ToBigInt(text: string): bigint {
  let groups: string[];
  let tail: bigint | null = null;
  let body = text.toLowerCase();
  // An embedded dotted quad in the last 32 bits (::ffff:1.2.3.4, ::1.2.3.4).
  const dotted = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(body);
  if (dotted) {
    tail = ipv4ToBigInt(dotted[1]!);
    body = body.slice(0, -dotted[1]!.length) + '0:0';
  }
  const [head, rest] = body.split('::') as [string, string | undefined];
  if (rest === undefined) {
    groups = head.split(':');
  } else {
    const left = head ? head.split(':') : [];
    const right = rest ? rest.split(':') : [];
    groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  }
  let value = groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || '0', 16)), 0n);
  if (tail !== null) value = (value >> 32n << 32n) + tail;
  return value;
}
