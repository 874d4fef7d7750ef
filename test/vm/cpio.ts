/**
 * The initramfs archive: cpio "newc" (the format the kernel unpacks),
 * gzipped. Written here rather than with cpio(1) so the device node
 * /dev/console (without it the initramfs has no output) needs no mknod and
 * the archive is the same bytes at every build.
 */
import { gzipSync } from 'node:zlib';

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'char'; path: string; major: number; minor: number; mode?: number };

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(ino: number, mode: number, size: number, name: string, rdev: [number, number] = [0, 0]): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
  const h = Buffer.from(`070701${fields.map(hex8).join('')}`, 'latin1');
  return Buffer.concat([h, nameBytes, Buffer.alloc(pad4(h.length + nameBytes.length))]);
}

/** The gzipped newc archive of `entries` (paths relative, no leading slash). */
export function newcArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    let data: Buffer = Buffer.alloc(0);
    let mode: number;
    let rdev: [number, number] = [0, 0];
    if (e.kind === 'dir') mode = 0o040000 | (e.mode ?? 0o755);
    else if (e.kind === 'file') {
      mode = 0o100000 | (e.mode ?? 0o644);
      data = e.data;
    } else if (e.kind === 'symlink') {
      mode = 0o120777;
      data = Buffer.from(e.target);
    } else {
      mode = 0o020000 | (e.mode ?? 0o600);
      rdev = [e.major, e.minor];
    }
    parts.push(header(ino++, mode, data.length, e.path, rdev), data, Buffer.alloc(pad4(data.length)));
  }
  parts.push(header(0, 0, 0, 'TRAILER!!!'));
  return gzipSync(Buffer.concat(parts), { level: 6 });
}
