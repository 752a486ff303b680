import type { LoggerOptions } from 'pino';

/**
 * JSON lines on stdout. Code and prompt text are never logged unless the operator opts in
 * (`log.logCode`), and credentials are redacted wherever they appear in logged objects.
 */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: undefined,
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["api-key"]',
        'req.headers.cookie',
        '*.apiKey',
        '*.password',
        '*.token',
      ],
      censor: '[redacted]',
    },
  };
}

/**
 * Whether a line at `level` would be written: build a costly line only then. Pino loggers say
 * so themselves (custom levels included); any other logger is asked to log.
 */
export function levelEnabled(log: object, level: string): boolean {
  const pinoLike = log as { isLevelEnabled?(level: string): boolean };
  return pinoLike.isLevelEnabled?.(level) ?? true;
}
