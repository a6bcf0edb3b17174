import { Writable, type PassThrough } from 'node:stream';

/**
 * Docker's multiplexed stream format (exec and logs without a tty): frames of
 * an 8-byte header (stream type: 1 stdout, 2 stderr; bytes 4-7 the payload
 * length, big-endian) followed by the payload.
 *
 * dockerode's modem.demuxStream ignores backpressure and copies its buffer
 * on every frame; a bulk copy through SSH (1 GiB through `cat`) needs both,
 * so this parser hands out payload slices without copying and the stream
 * below waits for the reader.
 */
export class FrameParser {
  private header = Buffer.alloc(0);
  private stream = 0;
  private remaining = 0;

  /** Splits a chunk into payload pieces; partial frames carry over to the next chunk. */
  push(chunk: Buffer): Array<{ stream: number; payload: Buffer }> {
    const out: Array<{ stream: number; payload: Buffer }> = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - offset);
        out.push({ stream: this.stream, payload: chunk.subarray(offset, offset + take) });
        this.remaining -= take;
        offset += take;
        continue;
      }
      const need = 8 - this.header.length;
      this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + need)]);
      offset += Math.min(need, chunk.length - offset);
      if (this.header.length < 8) break;
      this.stream = this.header.readUInt8(0);
      this.remaining = this.header.readUInt32BE(4);
      this.header = Buffer.alloc(0);
      if (this.stream !== 1 && this.stream !== 2) {
        throw new Error(`not a multiplexed docker stream (stream type ${this.stream})`);
      }
    }
    return out;
  }
}

/** A sink that splits a multiplexed stream into `stdout` and `stderr`, ending both when it finishes. */
export function demultiplexer(stdout: PassThrough, stderr: PassThrough): Writable {
  const parser = new FrameParser();
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      let pieces;
      try {
        pieces = parser.push(chunk);
      } catch (err) {
        callback(err as Error);
        return;
      }
      const blocked = new Set<PassThrough>();
      for (const [target, payloads] of byTarget(pieces, stdout, stderr)) {
        // A reader that went away gets nothing more; the other may still want its output.
        if (target.destroyed || target.writableEnded) continue;
        // One write per stream per chunk: each write becomes at least one SSH packet, and a read of 64 KiB
        // holds the ends of frames around a header, so copying the pieces together saves a packet (its
        // system call, padding and MAC) for a copy of under 64 KiB.
        if (!target.write(payloads.length === 1 ? (payloads[0] as Buffer) : Buffer.concat(payloads))) blocked.add(target);
      }
      let pending = blocked.size;
      if (pending === 0) callback();
      for (const target of blocked) {
        const done = () => {
          target.off('drain', done).off('close', done);
          if (--pending === 0) callback();
        };
        target.on('drain', done).on('close', done);
      }
    },
    final(callback) {
      stdout.end();
      stderr.end();
      callback();
    },
    destroy(err, callback) {
      stdout.end();
      stderr.end();
      callback(err);
    },
  });
}

function byTarget(pieces: Array<{ stream: number; payload: Buffer }>, stdout: PassThrough, stderr: PassThrough): Map<PassThrough, Buffer[]> {
  const grouped = new Map<PassThrough, Buffer[]>();
  for (const { stream, payload } of pieces) {
    const target = stream === 1 ? stdout : stderr;
    const list = grouped.get(target);
    if (list) list.push(payload);
    else grouped.set(target, [payload]);
  }
  return grouped;
}

/** The lines of a non-followed logs response (a Buffer of frames). */
export function logLines(body: Buffer): string[] {
  const text = Buffer.concat(new FrameParser().push(body).map((piece) => piece.payload)).toString('utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => line.replace(/\r$/, ''));
}
