import type { IncomingMessage } from 'node:http';
import { AcmeProblem } from '../acme/problems.js';
import { decodeJsonBytes, parseStrictJson } from '../acme/strict-json.js';

/**
 * Reads a request body up to `limit` bytes and parses it as strict JSON (acme/strict-json.ts: UTF-8,
 * no duplicate member names, bounded nesting). Oversized bodies are cut off while streaming (a
 * missing or lying Content-Length does not help) and answered 413; a body the client stops sending
 * (connection closed, or the listener's request timeout) is a malformed request, not a server error.
 *
 * On a real socket the bytes are read from the Node request (`incoming`, which @hono/node-server
 * hands the app as c.env.incoming): building the Fetch Request's web stream for a body of a few
 * hundred bytes cost more than everything else the HTTP layer does for it (issue 11, bench/RESULTS.md).
 * Without one (app.request() in tests) the Fetch body is read, with the same limit and errors.
 */
/**
 * The Node request a body can be read from, or undefined: a test may hand the app an `incoming`
 * that carries only a socket address (test/harness.ts), whose body is the Fetch Request's.
 */
export function nodeRequest(incoming: IncomingMessage | undefined): IncomingMessage | undefined {
  return incoming && typeof incoming.on === 'function' && typeof incoming.headers === 'object' ? incoming : undefined;
}

export async function readJsonBody(req: Request, limit: number, incoming?: IncomingMessage): Promise<unknown> {
  const declared = Number((incoming ? incoming.headers['content-length'] : req.headers.get('content-length')) ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const bytes = incoming ? await readIncoming(incoming, limit) : await readStream(req, limit);
  const text = decodeJsonBytes(bytes, 'the request body');
  if (text.trim() === '') throw new AcmeProblem('malformed', 'the request body is empty; ACME requests are JWS objects (RFC 8555 §6.2)');
  return parseStrictJson(text, 'the request body');
}

function readIncoming(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  if (incoming.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (settle: () => void) => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onCut);
      incoming.off('close', onCut);
      settle();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      // Stop reading: the rest stays in the socket (TCP pushes back on the sender) until the
      // node-server clean-up drains or closes it after the 413 is written.
      incoming.pause();
      done(() => reject(tooLarge(limit)));
    };
    const onEnd = () => done(() => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    const onCut = () => done(() => reject(cutShort()));
    incoming.on('data', onData);
    incoming.once('end', onEnd);
    incoming.once('error', onCut);
    incoming.once('close', onCut);
  });
}

async function readStream(req: Request, limit: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch {
        throw cutShort();
      }
      const { done, value } = chunk;
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks);
}

const tooLarge = (limit: number) => new AcmeProblem('malformed', `the request body is larger than ${limit} bytes`, { status: 413 });
const cutShort = () => new AcmeProblem('malformed', 'the request body was cut short (the connection closed, or the request took too long)');
