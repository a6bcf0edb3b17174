import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stdout. Paths that can carry secrets are censored here, once,
 * so no call site has to remember; call sites still log names, never values,
 * of tokens, cookies and passwords.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'berth' },
      redact: {
        paths: [
          'req.headers.cookie',
          'req.headers.authorization',
          'req.headers["x-berth-token"]',
          'password',
          'token',
          'secret',
          '*.password',
          '*.token',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? process.stdout,
  );
}
