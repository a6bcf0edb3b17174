import { pino, type Logger } from 'pino';
import { prettyDestination } from './pretty.js';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

/** log.format as configured, or, when unset (null), pretty for a person at a terminal and JSON lines for everything else. */
export function chooseLogFormat(configured: LogFormat | null, out: NodeJS.WritableStream): LogFormat {
  return configured ?? ((out as { isTTY?: boolean }).isTTY === true ? 'pretty' : 'json');
}

/**
 * JSON logs on stdout (or readable lines, format pretty). Paths that can carry secrets are censored here, once,
 * so no call site has to remember; call sites still log names, never values,
 * of tokens, cookies and passwords.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: LogFormat = 'json'): Logger {
  const out = destination ?? process.stdout;
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
    formatted(out, format),
  );
}

/** What pino writes its JSON lines to: `out` itself, or, format pretty, a readable rendering of them onto `out`. */
export function formatted(out: NodeJS.WritableStream, format: LogFormat): NodeJS.WritableStream | { write(line: string): boolean } {
  return format === 'pretty' ? prettyDestination(out, (out as { isTTY?: boolean }).isTTY === true && !process.env.NO_COLOR) : out;
}
