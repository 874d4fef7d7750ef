/**
 * The GRUB back end's grubenv: where it is, and reading and replacing it
 * whole (temporary file, fsync, rename), as greenboot's variables live there.
 */
import { Codes, OstreeTsError } from '../../errors/index.js';
import { parseGrubenv, serializeGrubenv } from '../../format/grubenv.js';
import { atomicWriteFile, exists, fsp, isErrno, path } from '../../io/fs.js';

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
    throw new OstreeTsError(Codes.SYSROOT_INVALID, `The grubenv ${file} cannot be read (${(e as Error).message}). Nothing was changed. Make it a readable file ('grub-editenv ${file} create' makes an empty one).`, { file }, { cause: e });
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

/**
 * A script for `/etc/grub.d/` (for example `08_ostree_ts_boot_counting`)
 * whose GRUB code counts boots in the grubenv as greenboot's does: while
 * `boot_counter` is set and `boot_success` is 0, a counter of 0 or -1 boots
 * the second entry (the rollback deployment, `default=1`) and sets -1, any
 * other counter from 1 to `maxTries` is decremented; `boot_success=0` is
 * saved at every boot, and the health check sets it to 1. GRUB's scripting
 * has no arithmetic, so each step is spelled out. `grub-mkconfig` (or
 * `update-grub`) puts it into grub.cfg.
 */
export function grubSnippet(maxTries = 9): string {
  const steps: string[] = [];
  for (let n = 1; n <= maxTries; n++) steps.push(`  elif [ "\${boot_counter}" = "${n}" ]; then\n    set boot_counter=${n - 1}`);
  return [
    '#!/bin/sh',
    '# Boot counting in the grubenv (boot_counter, boot_success) for ostree-ts boot assessment.',
    "cat << 'EOF'",
    'if [ -n "${boot_counter}" -a "${boot_success}" = "0" ]; then',
    '  if [ "${boot_counter}" = "0" -o "${boot_counter}" = "-1" ]; then',
    '    set default=1',
    '    set boot_counter=-1',
    ...steps,
    '  fi',
    '  save_env boot_counter',
    'fi',
    'set boot_success=0',
    'save_env boot_success',
    'EOF',
    '',
  ].join('\n');
}
