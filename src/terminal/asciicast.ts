import type { WriteStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** What the header of a Berth recording says about the session, beyond asciicast v2's own fields. */
export interface RecordingHeader {
  user: string;
  /** The berth's safe name. */
  berth: string;
  gateway: string;
  kind: 'ssh' | 'terminal';
  cols: number;
  rows: number;
  term: string;
  /** Milliseconds since the epoch. */
  startedAt: number;
}

/** The marker event label a capped recording ends with. */
export const CAP_MARKER = 'recording stopped: recording.maxBytes reached; the session went on unrecorded';

/**
 * One session's asciicast v2 file (https://docs.asciinema.org/manual/asciicast/v2/):
 * a JSON header line, then one JSON array per event ("o" output, "i" input,
 * "r" resize as "COLSxROWS", "m" marker). Every event is one complete line
 * handed to the file at once, so a gateway that dies mid-session leaves a
 * file the player still plays up to its last line. Past `maxBytes` one
 * marker is written and nothing more.
 */
export class AsciicastWriter {
  private bytes = 0;
  private stopped = false;
  private readonly decoders = { o: new StringDecoder('utf8'), i: new StringDecoder('utf8') };
  private readonly started: number;

  constructor(
    private readonly file: WriteStream,
    header: RecordingHeader,
    private readonly maxBytes: number,
    private readonly onCap: () => void,
    private readonly now: () => number = Date.now,
  ) {
    this.started = header.startedAt;
    this.line({
      version: 2,
      width: header.cols,
      height: header.rows,
      timestamp: Math.floor(header.startedAt / 1000),
      title: `${header.user} (${header.kind})`,
      env: { TERM: header.term },
      berth: { user: header.user, berth: header.berth, gateway: header.gateway, kind: header.kind, startedAt: new Date(header.startedAt).toISOString() },
    });
  }

  output(chunk: Buffer): void {
    this.text('o', chunk);
  }

  input(chunk: Buffer): void {
    this.text('i', chunk);
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`);
  }

  close(): void {
    if (this.file.writable) this.file.end();
  }

  /** Bytes split mid-character by the pty are held until the rest arrives: asciicast's data is text. */
  private text(type: 'o' | 'i', chunk: Buffer): void {
    if (this.stopped) return;
    const data = this.decoders[type].write(chunk);
    if (data !== '') this.event(type, data);
  }

  private event(type: string, data: string): void {
    if (this.stopped) return;
    const line = JSON.stringify([this.elapsed(), type, data]);
    if (this.bytes + Buffer.byteLength(line) + 1 > this.maxBytes) {
      this.stopped = true;
      this.line([this.elapsed(), 'm', CAP_MARKER]);
      this.close();
      this.onCap();
      return;
    }
    this.line(line);
  }

  private line(value: unknown): void {
    if (!this.file.writable) return;
    const text = `${typeof value === 'string' ? value : JSON.stringify(value)}\n`;
    this.bytes += Buffer.byteLength(text);
    this.file.write(text);
  }

  private elapsed(): number {
    return Math.round(this.now() - this.started) / 1000;
  }
}
