import { AcmeProblem } from '../acme/problems.js';
import { decodeJsonBytes, parseStrictJson } from '../acme/strict-json.js';

/**
 * Reads a request body up to `limit` bytes and parses it as strict JSON (acme/strict-json.ts: UTF-8,
 * no duplicate member names, bounded nesting). Oversized bodies are cut off while streaming (a
 * missing or lying Content-Length does not help) and answered 413; a body the client stops sending
 * (connection closed, or the listener's request timeout) is a malformed request, not a server error.
 */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch {
        throw new AcmeProblem('malformed', 'the request body was cut short (the connection closed, or the request took too long)');
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
  const text = decodeJsonBytes(Buffer.concat(chunks), 'the request body');
  if (text.trim() === '') throw new AcmeProblem('malformed', 'the request body is empty; ACME requests are JWS objects (RFC 8555 §6.2)');
  return parseStrictJson(text, 'the request body');
}

const tooLarge = (limit: number) => new AcmeProblem('malformed', `the request body is larger than ${limit} bytes`, { status: 413 });
