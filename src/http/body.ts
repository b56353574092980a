import { AcmeProblem } from '../acme/problems.js';

/**
 * Reads a request body up to `limit` bytes and parses it as JSON. Oversized bodies are cut off while
 * streaming (a missing or lying Content-Length does not help) and answered 413.
 */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new AcmeProblem('malformed', 'the request body is empty; ACME requests are JWS objects (RFC 8555 §6.2)');
  try {
    return JSON.parse(text);
  } catch {
    throw new AcmeProblem('malformed', 'the request body is not valid JSON');
  }
}

const tooLarge = (limit: number) => new AcmeProblem('malformed', `the request body is larger than ${limit} bytes`, { status: 413 });
