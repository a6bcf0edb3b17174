import { pino } from 'pino';
import { fileDestination, type LogDestination } from './destination.js';
import { chooseLogFormat, createLogger, formatted, type LogFormat, type Logger } from './logger.js';
import { throttledLog } from './throttled.js';

/** The log.* settings (config/schema.ts), as this layer sees them. */
export interface LogSettings {
  level: string;
  format: LogFormat | null;
  file: string | null;
  access: boolean;
  accessFile: string | null;
}

/** The gateway's own log and its access log, with the files under them, which SIGHUP reopens. */
export interface GatewayLogs {
  logger: Logger;
  /** Where access lines go (level info, whatever log.level says); null when log.access is off. */
  access: Logger | null;
  /** Opens log.file and log.accessFile again under their names, after logrotate renamed them. */
  reopen(): void;
  /** Writes out what is buffered and closes the files. */
  close(): Promise<void>;
}

/** A host program's own logger, or a stream (a test's) for the gateway's to write to. */
export type LogTarget = Logger | NodeJS.WritableStream;

export function isLogger(target: LogTarget): target is Logger {
  return typeof (target as Logger).child === 'function' && typeof (target as Logger).info === 'function';
}

/** Access lines have a pino logger of their own, so that log.level (warn, say) does not silence them. */
const ACCESS_LOGGER = { level: 'info', base: { service: 'berth', component: 'access' } };

/**
 * The gateway's log: a host program's logger, else on a given stream, else
 * log.file, else stdout. Access lines go to log.accessFile (plain JSON lines),
 * else beside the log in its format (beside a host's logger: its child).
 */
export function openGatewayLogs(settings: LogSettings, target?: LogTarget): GatewayLogs {
  const files: LogDestination[] = [];
  const open = (path: string, key: string, onError: (err: NodeJS.ErrnoException) => void) => {
    const file = fileDestination(path, key, onError);
    files.push(file);
    return file.stream;
  };
  let logger: Logger;
  let beside: NodeJS.WritableStream | { write(line: string): boolean } | null = null;
  if (target !== undefined && isLogger(target)) {
    logger = target;
  } else {
    const out = target ?? (settings.file === null ? process.stdout : open(settings.file, 'log.file', mainFileFailed(settings.file)));
    const format = chooseLogFormat(settings.format, out);
    logger = createLogger(settings.level, out, format);
    beside = formatted(out, format);
  }
  let access: Logger | null = null;
  if (settings.access && settings.accessFile !== null) {
    const problems = throttledLog(logger, { burst: 1 });
    const path = settings.accessFile;
    access = pino(
      ACCESS_LOGGER,
      open(path, 'log.accessFile', (err) => problems.write('error', 'access_file', { path, code: err.code }, 'cannot write the access log (log.accessFile): check the path, its directory and free space')),
    );
  } else if (settings.access) {
    access = beside === null ? logger.child({ component: 'access' }) : pino(ACCESS_LOGGER, beside);
  }
  return {
    logger,
    access,
    reopen: () => {
      for (const file of files) file.reopen();
    },
    close: async () => {
      await Promise.all(files.map((file) => file.close()));
    },
  };
}

/** A log file that fails cannot report through itself: stderr hears of it, once per kind of failure. */
function mainFileFailed(path: string): (err: NodeJS.ErrnoException) => void {
  const told = new Set<string>();
  return (err) => {
    const code = err.code ?? 'unknown';
    if (told.has(code)) return;
    told.add(code);
    process.stderr.write(`berth: cannot write log.file (${path}): ${err.message}; check the path, its directory and free space\n`);
  };
}
