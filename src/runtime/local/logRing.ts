/**
 * The last output of a berth, kept for error reports ("failed with exit code
 * 1; last lines: …"). Bounded by lines and by bytes, so a berth printing one
 * endless line or a flood of short ones costs the gateway the same small
 * amount of memory.
 */
export class LogRing {
  private readonly lines: string[] = [];
  private bytes = 0;
  /** The line still being written, completed by the next newline. */
  private partial = '';

  constructor(
    private readonly maxLines = 200,
    private readonly maxBytes = 64 * 1024,
  ) {}

  /** Takes decoded text (the stream's own decoder keeps multi-byte characters whole). */
  write(chunk: string): void {
    const text = this.partial + chunk;
    const parts = text.split('\n');
    this.partial = this.clip(parts.pop() ?? '');
    for (const line of parts) this.push(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  /** The last `count` lines, oldest first, including an unfinished last line. */
  tail(count: number): string[] {
    const all = this.partial === '' ? this.lines : [...this.lines, this.partial];
    const keep = Math.min(count, this.maxLines);
    return keep <= 0 ? [] : all.slice(-keep);
  }

  private push(line: string): void {
    const clipped = this.clip(line);
    this.lines.push(clipped);
    this.bytes += Buffer.byteLength(clipped);
    while (this.lines.length > this.maxLines || this.bytes > this.maxBytes) {
      this.bytes -= Buffer.byteLength(this.lines.shift() ?? '');
    }
  }

  /** One line may not take the whole budget on its own; keep its end, which usually holds the error. */
  private clip(line: string): string {
    const limit = Math.floor(this.maxBytes / 4);
    return line.length > limit ? `…${line.slice(-limit)}` : line;
  }
}
