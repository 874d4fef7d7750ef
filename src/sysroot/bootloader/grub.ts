/**
 * The GRUB back end's grubenv: where it is, and reading and replacing it
 * whole (temporary file, fsync, rename), as greenboot's variables live there.
 */
import { parseGrubenv, serializeGrubenv } from '../../format/index.js';
import { atomicWriteFile, exists, fsp, isErrno, path } from '../../io/index.js';

export interface GrubenvTarget {
  /** The grubenv, as a path inside the sysroot; default /boot/grub2/grubenv, or /boot/grub/grubenv when only that exists. */
  grubenv?: string;
}

export const DEFAULT_GRUBENV_PATHS = ['/boot/grub2/grubenv', '/boot/grub/grubenv'];

/** The grubenv's path on this machine (it need not exist yet). */
export async function grubenvFile(root: string, t: GrubenvTarget): Promise<string> {
  if (t.grubenv) return path.join(root, t.grubenv);
  for (const c of DEFAULT_GRUBENV_PATHS) if (await exists(path.join(root, c))) return path.join(root, c);
  return path.join(root, DEFAULT_GRUBENV_PATHS[0]);
}

/** The variables of the grubenv (none when it does not exist); a coded error naming it when it is not a grubenv. */
export async function readGrubenvFile(file: string): Promise<Map<string, string>> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return new Map();
    throw e;
  }
  return parseGrubenv(buf, file);
}

/** Replace the grubenv with `vars` (its directory made when missing). */
export async function writeGrubenvFile(file: string, vars: ReadonlyMap<string, string>): Promise<void> {
  const bytes = serializeGrubenv(vars);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await atomicWriteFile(file, bytes);
}

/** Read, change, write back; `change` edits the map. Nothing is written when the file is not a grubenv. */
export async function updateGrubenvFile(file: string, change: (vars: Map<string, string>) => void): Promise<Map<string, string>> {
  const vars = await readGrubenvFile(file);
  change(vars);
  await writeGrubenvFile(file, vars);
  return vars;
}
