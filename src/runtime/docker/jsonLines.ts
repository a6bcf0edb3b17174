import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** The objects of a newline-delimited JSON stream (engine events, pull progress); lines that are not JSON are skipped. */
export async function* jsonLines(stream: NodeJS.ReadableStream | Readable): AsyncGenerator<Record<string, unknown>> {
  for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (value !== null && typeof value === 'object') yield value as Record<string, unknown>;
  }
}
