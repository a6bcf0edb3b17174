import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import { AuditLog } from './auditLog.js';
import { JsonLinesFile, streamLines, type LineSink } from './jsonLines.js';

/** The audit log as configured (audit.*): always the store, plus audit.file and audit.stdout when set. */
export function createAuditLog(config: Config, store: Store, logger: Logger, stdout: NodeJS.WritableStream = process.stdout): AuditLog {
  const { retainDays, file } = config.audit;
  const lines: LineSink[] = [];
  if (file !== null) lines.push(new JsonLinesFile(file, logger));
  if (config.audit.stdout) lines.push(streamLines(stdout));
  return new AuditLog({ store, logger, retainDays, lines });
}
