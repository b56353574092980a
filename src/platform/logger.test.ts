import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { RequestScope } from './request-scope.js';

// Secrets never reach a log line (issue 9 item 8): by path (pino redaction), and by value for the
// PCA credentials the logger was given, whatever carried them into the line.

function capture(secrets?: string[], scope?: RequestScope) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'trace', destination, ...(secrets ? { secrets } : {}), ...(scope ? { scope } : {}) }) };
}

const SECRET = 'nCp-S3cret-"quoted"\\-value';
const ACCESS = 'AKIDEXAMPLE123456';

describe('createLogger', () => {
  it('redacts secrets by path, nested config included', () => {
    const { lines, logger } = capture();
    logger.info({ secretKey: SECRET, pca: { accessKey: ACCESS, secretKey: SECRET }, config: { pca: { secretKey: SECRET } }, hmacKey: 'k' }, 'paths');
    logger.debug({ req: { headers: { 'x-ncp-apigw-signature-v2': 'sig', 'x-ncp-iam-access-key': ACCESS } } }, 'headers');
    const text = lines.join('');
    expect(text).not.toContain('nCp-S3cret');
    expect(text).not.toContain(ACCESS);
    expect(text).not.toContain('"sig"');
    expect(text.match(/\[redacted\]/g)!.length).toBeGreaterThanOrEqual(6);
  });

  it('cuts the given secrets out of messages and error texts, raw or JSON-escaped, at every level', () => {
    const { lines, logger } = capture([SECRET, ACCESS]);
    logger.trace(`PCA said: invalid key ${ACCESS}`);
    logger.debug({ err: new Error(`echo ${SECRET}`) }, 'failed');
    logger.child({ component: 'x' }).error({ detail: { text: `…${SECRET}…` } }, 'nested');
    const text = lines.join('');
    expect(lines).toHaveLength(3);
    expect(text).not.toContain('nCp-S3cret');
    expect(text).not.toContain(ACCESS);
    expect(text).toContain('PCA said: invalid key [redacted]');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('leaves short values alone (they would match ordinary words)', () => {
    const { lines, logger } = capture(['sk']);
    logger.info('task asked');
    expect(lines.join('')).toContain('task asked');
  });

  it("inside a request, each line carries its ids once, also from a child logger that binds the same key", () => {
    const scope = new RequestScope();
    const { lines, logger } = capture(undefined, scope);
    scope.run({ requestId: 'r1', clientIp: null, orderId: 'o1' }, () => {
      logger.info('plain');
      logger.child({ orderId: 'o1', jobId: 'j1' }).info('child');
      logger.child({ component: 'x' }).info('other child');
    });
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line.match(/"orderId"/g), line).toHaveLength(1);
      expect(line.match(/"requestId"/g), line).toHaveLength(1);
      expect(JSON.parse(line)).toMatchObject({ requestId: 'r1', orderId: 'o1' });
    }
  });
});
