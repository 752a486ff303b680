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
