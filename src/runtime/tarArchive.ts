/** An entry of a tar archive the gateway writes: a directory or a regular file, owned by root (the engine maps owners). */
export type TarEntry = { kind: 'dir'; path: string; mode: number } | { kind: 'file'; path: string; mode: number; content: Buffer };

const BLOCK = 512;
/** ustar's name field; a longer path travels in a PAX header before its entry. */
const NAME_BYTES = 100;

/** A POSIX (ustar, with PAX long names) archive of `entries`, in order, as the engines' archive APIs take it. */
export function tarOf(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const name = entry.kind === 'dir' ? `${entry.path}/` : entry.path;
    if (Buffer.byteLength(name) > NAME_BYTES) {
      const record = paxRecord('path', name);
      blocks.push(header('PaxHeader', 0o644, record.length, 'x'), padded(record));
    }
    const size = entry.kind === 'file' ? entry.content.length : 0;
    blocks.push(header(name, entry.mode, size, entry.kind === 'dir' ? '5' : '0'));
    if (entry.kind === 'file') blocks.push(padded(entry.content));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(blocks);
}

function header(name: string, mode: number, size: number, type: string): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name.slice(0, NAME_BYTES), 0, NAME_BYTES, 'utf8');
  octal(block, 100, 8, mode);
  octal(block, 108, 8, 0);
  octal(block, 116, 8, 0);
  octal(block, 124, 12, size);
  octal(block, 136, 12, Math.floor(Date.now() / 1000));
  block.write(type, 156, 1, 'ascii');
  block.write('ustar\u000000', 257, 8, 'ascii');
  // The checksum is summed with its own field read as spaces.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return block;
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'ascii');
}

/** "<length> <key>=<value>\n", the length counting itself. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  while (String(length).length + Buffer.byteLength(body) !== length) length = String(length).length + Buffer.byteLength(body);
  return Buffer.from(`${length}${body}`, 'utf8');
}

function padded(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}
