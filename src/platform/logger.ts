import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';

export type Logger = PinoLogger;

/**
 * JSON logs on stdout. Secrets are redacted by path wherever they could appear in a logged object.
 */
export function createLogger(options: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: undefined,
    redact: {
      paths: ['secretKey', 'accessKey', '*.secretKey', '*.accessKey', 'headers["x-ncp-apigw-signature-v2"]', 'hmacKey', '*.hmacKey'],
      censor: '[redacted]',
    },
  };
  return options.destination ? pino(opts, options.destination as never) : pino(opts);
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
