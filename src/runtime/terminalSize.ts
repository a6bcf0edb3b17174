import { Transform } from 'node:stream';

/**
 * What the wrapper prints once it has set the size: an OSC sequence, which a
 * terminal ignores should it ever get through. SET_SIZE_LINE spells it for
 * printf from the same text.
 */
const SIZED_TEXT = 'berth;sized';
export const SIZED = `\x1b]${SIZED_TEXT}\x07`;
const SIZED_BYTES = Buffer.from(SIZED, 'latin1');

/**
 * Where the engine or API takes no terminal size when a process is made
 * (Docker before API 1.42, Kubernetes' exec), its pty starts at 0x0 until a
 * resize arrives, and a command that asks for its size at once (tput cols)
 * would see none. So the command runs behind a shell that sets the size with
 * this line, from its arguments $1 (rows) and $2 (cols), says SIZED, then
 * becomes the command. A resize applied before that stty would be undone by
 * it, so resizes wait for SIZED (see sizedOutput).
 */
export const SET_SIZE_LINE = `stty rows "$1" cols "$2" 2>/dev/null; printf '\\033]${SIZED_TEXT}\\007'`;

/**
 * The output of a wrapped exec without the SIZED at its start. `sized`
 * settles once SIZED has passed, or as soon as the output shows it will not
 * come (the wrapper failed), so resizes are never held for good.
 */
export function sizedOutput(): { output: Transform; sized: Promise<void> } {
  let settle: () => void = () => undefined;
  const sized = new Promise<void>((resolve) => (settle = resolve));
  let head: Buffer | null = Buffer.alloc(0);
  const output = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (head === null) return done(null, chunk);
      head = Buffer.concat([head, chunk]);
      const compared = Math.min(head.length, SIZED_BYTES.length);
      if (head.subarray(0, compared).equals(SIZED_BYTES.subarray(0, compared))) {
        if (head.length < SIZED_BYTES.length) return done();
        const rest = head.subarray(SIZED_BYTES.length);
        head = null;
        settle();
        return done(null, rest.length > 0 ? rest : undefined);
      }
      const unwrapped = head;
      head = null;
      settle();
      done(null, unwrapped);
    },
    flush(done) {
      const left = head;
      head = null;
      settle();
      done(null, left !== null && left.length > 0 ? left : undefined);
    },
  });
  output.once('close', settle);
  return { output, sized };
}
