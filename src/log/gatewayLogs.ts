import { pino } from 'pino';
import { fileDestination, streamDestination, type LogDestination } from './destination.js';
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

/**
 * The gateway's log on `sink` (a host program's or a test's stream), else
 * log.file, else stdout; access lines in log.accessFile, else beside it, in
 * its format. The access log is a pino logger of its own so that log.level
 * (warn, say) does not silence it and a separate file gets plain JSON lines.
 */
export function openGatewayLogs(settings: LogSettings, sink?: NodeJS.WritableStream): GatewayLogs {
  const main = sink !== undefined ? streamDestination(sink) : settings.file !== null ? fileDestination(settings.file, 'log.file', mainFileFailed(settings.file)) : streamDestination(process.stdout);
  const format = chooseLogFormat(settings.format, main.stream);
  const logger = createLogger(settings.level, main.stream, format);
  const files: LogDestination[] = [main];
  let access: Logger | null = null;
  if (settings.access) {
    let out: NodeJS.WritableStream | { write(line: string): boolean } = formatted(main.stream, format);
    if (settings.accessFile !== null) {
      const problems = throttledLog(logger, { burst: 1 });
      const file = fileDestination(settings.accessFile, 'log.accessFile', (err) =>
        problems.write('error', 'access_file', { path: settings.accessFile, code: err.code }, 'cannot write the access log (log.accessFile): check the path, its directory and free space'),
      );
      files.push(file);
      out = file.stream;
    }
    access = pino({ level: 'info', base: { service: 'berth', component: 'access' } }, out);
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
