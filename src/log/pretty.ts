import { styleText } from 'node:util';

/*
 * Pino's JSON lines made readable for a person at a terminal: one line per
 * event, "12:00:01.123 INFO  http: message key=value …", coloured by level.
 * A destination pino writes each serialised line to (synchronously, like
 * stdout), so nothing is buffered or lost at exit.
 */

type Style = Parameters<typeof styleText>[0];

const LEVELS: Record<number, { name: string; style: Style }> = {
  10: { name: 'TRACE', style: 'gray' },
  20: { name: 'DEBUG', style: 'blue' },
  30: { name: 'INFO ', style: 'green' },
  40: { name: 'WARN ', style: 'yellow' },
  50: { name: 'ERROR', style: 'red' },
  60: { name: 'FATAL', style: ['bgRed', 'white'] },
};

/** Fields every line has, shown in their own places or not at all (service is always "berth"). */
const PLACED = new Set(['level', 'time', 'msg', 'component', 'service', 'err']);

export function prettyDestination(out: NodeJS.WritableStream, colour: boolean): { write(line: string): boolean } {
  // Whether to colour is decided by the caller (a terminal, no NO_COLOR); styleText's own check would also drop colour wherever CI is set.
  const paint = (style: Style, text: string) => (colour ? styleText(style, text, { validateStream: false }) : text);
  return {
    write(line: string): boolean {
      return out.write(`${prettyLine(line, paint)}\n`);
    },
  };
}

export function prettyLine(line: string, paint: (style: Style, text: string) => string = (_s, t) => t): string {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trimEnd();
  }
  const level = LEVELS[event.level as number] ?? { name: String(event.level).padEnd(5), style: 'white' };
  const time = typeof event.time === 'number' ? new Date(event.time).toISOString().slice(11, 23) : '';
  const parts = [paint('gray', time), paint(level.style, level.name)];
  if (typeof event.component === 'string') parts.push(paint('cyan', `${event.component}:`));
  if (typeof event.msg === 'string') parts.push(event.msg.replace(/\n/g, '\\n'));
  const err = event.err as { type?: string; message?: string } | undefined;
  if (err && typeof err === 'object') parts.push(paint('red', `err=${JSON.stringify(`${err.type ?? 'Error'}: ${err.message ?? ''}`)}`));
  for (const [key, value] of Object.entries(event)) {
    if (PLACED.has(key) || value === undefined) continue;
    parts.push(`${paint('gray', `${key}=`)}${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`);
  }
  return parts.join(' ');
}
