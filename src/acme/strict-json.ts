import { AcmeProblem } from './problems.js';

// Strict JSON for everything a client sends: the request body, the JWS protected header and
// payload, the EAB and key-change inner JWS. JSON.parse silently keeps the last of two members
// with the same name, so `{"alg":"ES256","alg":"none"}` means one thing to us and maybe another to
// a proxy, a log pipeline or an auditing tool; RFC 7515 §4 lets a JWS parser either reject such
// headers or keep the last one, and RFC 8259 §4 says names SHOULD be unique. We reject them all.
//
// The check is one scan of the text before JSON.parse: it jumps from quote to quote with indexOf and
// from one structural character to the next with a regex, so it costs a few microseconds on an
// ordinary request (bench/strict-json.ts). The same scan bounds nesting depth and the number of
// objects and arrays, so a body within server.maxBodyBytes cannot turn into a tree many times its
// size (`[{},{},…]` is ~50 bytes of heap per 3 bytes of text) or recurse anything that walks it.

export interface JsonLimits {
  /** Deepest nesting of objects and arrays; ACME's own messages go 3 deep (newOrder identifiers). */
  maxDepth: number;
  /** Objects and arrays in one text; a 100-identifier newOrder has 102. */
  maxContainers: number;
}

export const JSON_LIMITS: JsonLimits = { maxDepth: 32, maxContainers: 1024 };

/** What the scan found wrong, if anything. */
export type JsonScanFinding =
  | { kind: 'duplicate'; member: string; path: string }
  | { kind: 'depth' }
  | { kind: 'containers' };

interface Frame {
  object: boolean;
  /**
   * Member names seen so far (objects): a list while short (ACME objects have a handful of members,
   * and a list is cheaper than a Set there), a Set beyond that so a 10,000-member object stays linear.
   */
  names: string[] | Set<string>;
  /** Objects: the next string is a member name. */
  expectName: boolean;
  /** The last member name (objects) or the element index (arrays): where a child sits. */
  lastName: string;
  index: number;
  /** How the parent names this container ("" for the root). */
  label: string;
}

/**
 * One pass over `text`: the first duplicate member name (with its path), or a limit exceeded.
 * The scan is meant to run on text JSON.parse accepts; on anything else it still ends (every step
 * moves forward) and its answer does not matter, as JSON.parse refuses the text anyway.
 */
export function scanJson(text: string, limits: JsonLimits = JSON_LIMITS): JsonScanFinding | null {
  const stack: Frame[] = [];
  let top: Frame | undefined;
  let containers = 0;
  let duplicate: JsonScanFinding | null = null;
  const length = text.length;
  for (let at = 0; at < length; at++) {
    const c = text.charCodeAt(at);
    if (c === 0x22) {
      // '"': find the closing quote, skipping escaped ones (an odd run of backslashes before it).
      let end = at;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end === -1) return duplicate; // unterminated: not JSON
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === 0x5c) slashes++;
        if ((slashes & 1) === 0) break;
      }
      if (top !== undefined && top.expectName) {
        top.expectName = false;
        const name = memberName(text, at, end);
        top.lastName = name;
        if (duplicate === null) {
          if (seen(top, name)) duplicate = { kind: 'duplicate', member: name, path: pathOf(stack, name) };
        }
      }
      at = end;
    } else if (c === 0x7b || c === 0x5b) {
      // '{' or '['
      if (++containers > limits.maxContainers) return { kind: 'containers' };
      if (stack.length >= limits.maxDepth) return { kind: 'depth' };
      const label = top === undefined ? '' : top.object ? top.lastName : String(top.index);
      const object = c === 0x7b;
      top = { object, names: [], expectName: object, lastName: '', index: 0, label };
      stack.push(top);
    } else if (c === 0x7d || c === 0x5d) {
      // '}' or ']'
      stack.pop();
      top = stack[stack.length - 1];
    } else if (c === 0x2c && top !== undefined) {
      // ','
      if (top.object) top.expectName = true;
      else top.index++;
    }
  }
  return duplicate;
}

/** Whether `name` was seen in this object before; records it when not. */
function seen(frame: Frame, name: string): boolean {
  const names = frame.names;
  if (Array.isArray(names)) {
    if (names.includes(name)) return true;
    names.push(name);
    if (names.length > 16) frame.names = new Set(names);
    return false;
  }
  if (names.has(name)) return true;
  names.add(name);
  return false;
}

/** The decoded member name between the quotes at `open` and `close` (escapes are rare: decode only then). */
function memberName(text: string, open: number, close: number): string {
  const raw = text.slice(open + 1, close);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(text.slice(open, close + 1)) as string;
  } catch {
    return raw; // a bad escape: JSON.parse will refuse the whole text
  }
}

/** `identifiers[0].type`-style path of a member, for the problem detail. */
function pathOf(stack: Frame[], member: string): string {
  let path = '';
  for (let i = 1; i < stack.length; i++) {
    const parent = stack[i - 1]!;
    path += parent.object ? `${path ? '.' : ''}${stack[i]!.label}` : `[${stack[i]!.label}]`;
  }
  return path ? `${path}.${member}` : member;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes to JSON text. RFC 8259 §8.1: JSON exchanged between systems is UTF-8, so bytes that are not
 * UTF-8 are not JSON text, and are answered as such. A lenient decoder would turn them into U+FFFD,
 * which another parser might read differently.
 */
export function decodeJsonBytes(bytes: Uint8Array, what: string): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new AcmeProblem('malformed', `${what} is not valid JSON`);
  }
}

/**
 * JSON.parse with duplicate member names refused (naming the member and where it is) and the
 * depth and container limits applied. `what` starts the problem detail ("the JWS payload").
 */
export function parseStrictJson(text: string, what: string, limits: JsonLimits = JSON_LIMITS): unknown {
  const finding = scanJson(text, limits);
  if (finding?.kind === 'depth') throw new AcmeProblem('malformed', `${what} is nested deeper than ${limits.maxDepth} levels`);
  if (finding?.kind === 'containers') throw new AcmeProblem('malformed', `${what} has more than ${limits.maxContainers} objects and arrays`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AcmeProblem('malformed', `${what} is not valid JSON`);
  }
  if (finding?.kind === 'duplicate') {
    const where = finding.path === finding.member ? '' : ` (at ${quoted(finding.path)})`;
    throw new AcmeProblem('malformed', `${what} has a duplicate member ${quoted(finding.member)}${where}; member names must be unique (RFC 7515 §4, RFC 8259 §4)`);
  }
  return value;
}

/** A name as JSON text, cut short: it came from the client and may be long or hold control characters. */
const quoted = (s: string): string => JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
