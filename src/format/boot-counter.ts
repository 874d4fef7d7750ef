/**
 * Boot counting in entry file names (Boot Loader Specification, "Boot
 * counting"; systemd-boot's boot_entry_parse_tries): `NAME+LEFT.conf` or
 * `NAME+LEFT-DONE.conf` (also `.efi`), the last `+` of the name counting and
 * the counter directly before the suffix. LEFT > 0 is indeterminate (still on
 * probation), LEFT = 0 is bad, no counter is good (or not counted).
 *
 * Names are written unpadded, as systemd-boot writes them:
 * `+3 → +2-1 → +1-2 → +0-3`.
 */

export type BootCounterExt = '.conf' | '.efi';

export interface ParsedBootCounter {
  /** The name before the last `+` (`ostree-2-debian` of `ostree-2-debian+1-2.conf`). */
  stem: string;
  /** Tries left. */
  left: number;
  /** Tries done (0 when the name has no `-DONE`). */
  done: number;
  ext: BootCounterExt;
}

export interface BootCounter {
  left: number;
  done: number;
}

/** systemd-boot reads both counters as 16-bit numbers; a larger one is no counter. */
const MAX_COUNT = 0xffff;

function extOf(fileName: string): BootCounterExt | null {
  if (fileName.endsWith('.conf')) return '.conf';
  if (fileName.endsWith('.efi')) return '.efi';
  return null;
}

/** The counter of an entry file name, or null when it carries none (or a malformed one, which counts as none). */
export function parseBootCounter(fileName: string): ParsedBootCounter | null {
  const ext = extOf(fileName);
  if (!ext) return null;
  const base = fileName.slice(0, -ext.length);
  const plus = base.lastIndexOf('+');
  if (plus < 0) return null;
  const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(base.slice(plus + 1));
  if (!m) return null;
  const left = Number(m[1]);
  const done = m[2] === undefined ? 0 : Number(m[2]);
  if (left > MAX_COUNT || done > MAX_COUNT) return null;
  return { stem: base.slice(0, plus), left, done, ext };
}

/** `+LEFT` (when DONE is 0) or `+LEFT-DONE`. */
export function counterSuffix(c: BootCounter): string {
  return c.done === 0 ? `+${c.left}` : `+${c.left}-${c.done}`;
}

/** The name without its counter (unchanged when it has none). */
export function blessedName(fileName: string): string {
  const p = parseBootCounter(fileName);
  return p ? `${p.stem}${p.ext}` : fileName;
}

/** `stem` + counter + suffix: the name an entry `STEM.conf` has with counter `c` (none when null). */
export function withCounter(fileName: string, c: BootCounter | null): string {
  const p = parseBootCounter(fileName);
  const ext = p?.ext ?? extOf(fileName);
  if (!ext) return fileName;
  const stem = p ? p.stem : fileName.slice(0, -ext.length);
  return `${stem}${c ? counterSuffix(c) : ''}${ext}`;
}

/**
 * The name systemd-boot renames a counted entry to just before it boots it:
 * `+max(LEFT-1, 0)-(DONE+1)`, unpadded. Null for an entry without a counter
 * (the bootloader leaves it alone).
 */
export function decrementedName(fileName: string): string | null {
  const p = parseBootCounter(fileName);
  if (!p) return null;
  return `${p.stem}${counterSuffix({ left: Math.max(p.left - 1, 0), done: Math.min(p.done + 1, MAX_COUNT) })}${p.ext}`;
}

/** The name of an entry marked bad (systemd-bless-boot bad): `+0-DONE`, or `+0` when DONE is 0 or there was no counter. */
export function badName(fileName: string): string {
  const p = parseBootCounter(fileName);
  return withCounter(fileName, { left: 0, done: p ? p.done : 0 });
}
