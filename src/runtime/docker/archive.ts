import { posix } from 'node:path';
import type Docker from 'dockerode';
import { engineMessage, engineStatus } from './engineErrors.js';

/** One file read from a container, or why it was not. */
export type ContainerFile = { text: string } | { problem: string };

/** An archive entry: a file, a symbolic link to follow, or why neither. */
type Entry = ContainerFile | { link: string };

const BLOCK = 512;
/** As the kernel's limit on symbolic links in one path lookup, to end a loop of links. */
const MAX_LINKS = 8;
/** Room for the tar headers (and a PAX header) around the file's own bytes. */
const HEADER_ALLOWANCE = 16 * BLOCK;

/**
 * Reads the regular file at `path` inside a container through the engine's
 * archive API (GET /containers/{id}/archive): no process starts in the
 * container, so it works on images with no shell, and the engine resolves
 * the path inside the container's own root. Symbolic links are followed, as
 * sshd follows them; only a regular file of at most `maxBytes`, writable by
 * its owner alone (as sshd's StrictModes wants of an authorized_keys file),
 * is read; anything else is a problem in words.
 */
export async function readContainerFile(container: Docker.Container, path: string, maxBytes: number): Promise<ContainerFile> {
  let current = path;
  for (let links = 0; links <= MAX_LINKS; links++) {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await container.getArchive({ path: current });
    } catch (err) {
      const status = engineStatus(err);
      if (status === 404) return { problem: 'no such file' };
      // The engine's answer about this path (a loop of links, say); only an engine out of reach is the caller's error.
      if (status !== null) return { problem: engineMessage(err).trim() };
      throw err;
    }
    const tar = await readCapped(stream, maxBytes + HEADER_ALLOWANCE);
    if (tar === null) return { problem: `larger than ${maxBytes} bytes` };
    const entry = entryIn(tar, maxBytes);
    if (!('link' in entry)) return entry;
    // Docker archives a link itself (Podman follows it): followed here, still resolved by the engine inside the container.
    current = posix.resolve(posix.dirname(current), entry.link);
  }
  return { problem: `more than ${MAX_LINKS} symbolic links` };
}

async function readCapped(stream: NodeJS.ReadableStream, cap: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > cap) {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Entry types that only describe the next entry (PAX and GNU long names): skipped over. */
const METADATA = new Set(['x', 'g', 'L', 'K']);
const KINDS: Record<string, string> = { '1': 'a hard link', '3': 'a device', '4': 'a device', '5': 'a directory', '6': 'a FIFO' };

/** The first file in a tar archive, when it is a regular file that fits and is not writable by group or others; a symbolic link's target. */
export function entryIn(tar: Buffer, maxBytes: number): Entry {
  for (let offset = 0; offset + BLOCK <= tar.length; ) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) break;
    const size = octal(header.subarray(124, 136));
    const type = String.fromCharCode(header[156] ?? 0);
    if (size === null) return { problem: 'an archive entry the gateway cannot read' };
    const data = offset + BLOCK;
    if (METADATA.has(type)) {
      offset = data + Math.ceil(size / BLOCK) * BLOCK;
      continue;
    }
    if (type === '2') return { link: nulTerminated(header.subarray(157, 257)) };
    if (type !== '0' && type !== '\0' && type !== '7') return { problem: `not a regular file (${KINDS[type] ?? `tar type ${JSON.stringify(type)}`})` };
    if (size > maxBytes) return { problem: `larger than ${maxBytes} bytes` };
    const mode = octal(header.subarray(100, 108)) ?? 0;
    if ((mode & 0o022) !== 0) return { problem: `writable by group or others (mode ${(mode & 0o777).toString(8)})` };
    if (data + size > tar.length) return { problem: 'the archive ended inside the file' };
    return { text: tar.subarray(data, data + size).toString('utf8') };
  }
  return { problem: 'the archive holds no file' };
}

function nulTerminated(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

/** A NUL- or space-terminated octal field; null for the base-256 form (sizes beyond 8 GiB) or anything else. */
function octal(field: Buffer): number | null {
  const text = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
  if (!/^[0-7]*$/.test(text)) return null;
  return text === '' ? 0 : parseInt(text, 8);
}
