import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';
import { prettyStream } from './pretty-log.js';
import type { RequestScope } from './request-scope.js';

export type Logger = PinoLogger;

/** Paths of logged objects that hold secrets, wherever they appear (pino redaction). */
const REDACT_PATHS = [
  'secretKey',
  'accessKey',
  '*.secretKey',
  '*.accessKey',
  'pca.secretKey',
  'pca.accessKey',
  '*.pca.secretKey',
  '*.pca.accessKey',
  'headers["x-ncp-apigw-signature-v2"]',
  'headers["x-ncp-iam-access-key"]',
  '*.headers["x-ncp-apigw-signature-v2"]',
  '*.headers["x-ncp-iam-access-key"]',
  'hmacKey',
  '*.hmacKey',
];

/** Shorter strings would match ordinary words; real NCP keys are 20 characters and more. */
const MIN_SCRUBBED_LENGTH = 8;

/**
 * JSON logs on stdout. Secrets are redacted by path wherever they could appear in a logged object;
 * and, as a second line of defence, the values in `secrets` (the PCA credentials) are cut out of
 * every line before it is written, so a secret that reached a log message some other way (an error
 * message that echoes a request, a future log call that forgets) still never reaches the log.
 */
export function createLogger(
  options: {
    level?: string;
    /** Readable lines (platform/pretty-log.ts) instead of JSON; serve turns it on for a terminal. */
    pretty?: boolean;
    destination?: NodeJS.WritableStream;
    secrets?: Array<string | undefined>;
    /** Every line written inside a request carries its request id (and order id) from here. */
    scope?: RequestScope;
  } = {},
): Logger {
  const scrub = scrubber(options.secrets ?? []);
  const scope = options.scope;
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(scrub ? { hooks: { streamWrite: scrub } } : {}),
    ...(scope ? { mixin: (_merge: object, _level: number, logger: PinoLogger) => unbound(scope.logFields(), logger) } : {}),
  };
  const destination = options.pretty ? prettyStream(options.destination ?? process.stdout) : options.destination;
  return destination ? pino(opts, destination as never) : pino(opts);
}

/**
 * The request's fields that the logger has not bound already: a child made with `{ orderId }` inside
 * the request's scope would otherwise write the key twice in one JSON line, which strict parsers
 * (Elasticsearch's, for one) refuse.
 */
function unbound(fields: Record<string, string>, logger: PinoLogger): Record<string, string> {
  const keys = Object.keys(fields);
  if (keys.length === 0) return fields;
  const bound = logger.bindings();
  if (!keys.some((k) => k in bound)) return fields;
  return Object.fromEntries(Object.entries(fields).filter(([k]) => !(k in bound)));
}

/** Replaces each secret, as written and as escaped inside a JSON string, by "[redacted]". */
function scrubber(secrets: Array<string | undefined>): ((line: string) => string) | null {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s === undefined || s.length < MIN_SCRUBBED_LENGTH) continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  if (forms.size === 0) return null;
  const list = [...forms].sort((a, b) => b.length - a.length);
  return (line) => {
    let out = line;
    for (const f of list) if (out.includes(f)) out = out.split(f).join('[redacted]');
    return out;
  };
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
