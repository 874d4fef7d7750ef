/**
 * What firmware does at one boot, emulated on a sysroot.
 *
 * systemd-boot (systemd's src/boot/boot.c): the entries are sorted — an
 * entry with no tries left goes last; one with a sort-key before one
 * without; sort-key, machine-id, then version (descending); then the file
 * name, lowercased and with its counter, in descending version order; then
 * more tries left, fewer tries done. `loader.conf`'s `default` glob picks the
 * first entry in that order it matches (an entry with no tries left is not
 * skipped), else the first. A counted entry is renamed to its decremented
 * name just before it boots.
 *
 * GRUB with greenboot's snippet: while `boot_counter` is set and
 * `boot_success` is 0, a counter of 0 or -1 boots the second entry (the
 * rollback, `default=1`) and sets -1; any other counter is decremented.
 * `boot_success=0` is saved at every boot.
 */
import { BlsEntry, strverscmp } from '../../format/bls.js';
import { decrementedName, parseBootCounter } from '../../format/boot-counter.js';
import { fsp, isErrno, path } from '../../io/fs.js';

export interface FirmwareEntry {
  /** The file name. */
  name: string;
  entry: BlsEntry;
  /** Tries left, -1 when it has no counter. */
  triesLeft: number;
  triesDone: number;
}

/** systemd-boot's boot_entry_compare (without profiles). */
export function compareFirmwareEntries(a: FirmwareEntry, b: FirmwareEntry): number {
  if ((a.triesLeft === 0) !== (b.triesLeft === 0)) return a.triesLeft === 0 ? 1 : -1;
  const ka = a.entry.get('sort-key');
  const kb = b.entry.get('sort-key');
  if ((ka !== undefined) !== (kb !== undefined)) return ka !== undefined ? -1 : 1;
  if (ka !== undefined && kb !== undefined) {
    if (ka !== kb) return ka < kb ? -1 : 1;
    const ma = a.entry.get('machine-id') ?? '';
    const mb = b.entry.get('machine-id') ?? '';
    if (ma !== mb) return ma < mb ? -1 : 1;
    const r = strverscmp(b.entry.get('version') ?? '', a.entry.get('version') ?? '');
    if (r !== 0) return r;
  }
  const r = strverscmp(b.name.toLowerCase(), a.name.toLowerCase());
  if (r !== 0) return r;
  if (a.triesLeft !== b.triesLeft) return b.triesLeft - a.triesLeft;
  return a.triesDone - b.triesDone;
}

/** A `default` pattern as systemd-boot matches it: `*`, `?` and `[…]`, on the lowercased file name. */
export function globMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 'i').test(name);
}

/** The entries of a loader's entries directory (every `*.conf`, temporaries left out). */
export async function readFirmwareEntries(dir: string): Promise<FirmwareEntry[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
  const out: FirmwareEntry[] = [];
  for (const name of names) {
    if (!name.endsWith('.conf') || name.startsWith('.')) continue;
    const st = await fsp.lstat(path.join(dir, name));
    if (!st.isFile()) continue;
    const c = parseBootCounter(name);
    out.push({ name, entry: BlsEntry.parse(await fsp.readFile(path.join(dir, name), 'utf8')), triesLeft: c ? c.left : -1, triesDone: c ? c.done : 0 });
  }
  return out.sort(compareFirmwareEntries);
}

/** `default` of a loader.conf (null when there is none, or it is `@saved`, an EFI variable not emulated). */
export function loaderConfDefault(text: string | null): string | null {
  let v: string | null = null;
  for (const line of (text ?? '').split('\n')) {
    const m = /^\s*default\s+(.*?)\s*$/.exec(line);
    if (m) v = m[1];
  }
  return v && v !== '@saved' ? v : null;
}

/** The entry systemd-boot boots, and the name it renames it to first (null when it is not counted). */
export function chooseEntry(entries: FirmwareEntry[], defaultPattern: string | null): { chosen: FirmwareEntry; next: string | null } | null {
  if (!entries.length) return null;
  const chosen = (defaultPattern ? entries.find((e) => globMatch(defaultPattern, e.name.toLowerCase())) : undefined) ?? entries[0];
  // Only entries that boot a kernel (linux, uki) or are unified images (.efi) are counted; a chainloaded `efi` one is not.
  const counted = chosen.name.endsWith('.efi') || chosen.entry.get('linux') !== undefined || chosen.entry.get('uki') !== undefined;
  return { chosen, next: counted ? decrementedName(chosen.name) : null };
}

/** greenboot's GRUB snippet on the grubenv's variables: the entry index it boots and the counter before and after. */
export function grubBoot(vars: Map<string, string>): { index: number; before: number | null; after: number | null } {
  const raw = vars.get('boot_counter');
  const before = raw !== undefined && /^-?[0-9]+$/.test(raw) ? Number(raw) : null;
  let after = before;
  let index = 0;
  if (raw !== undefined && vars.get('boot_success') === '0' && before !== null) {
    if (before === 0 || before === -1) {
      index = 1;
      after = -1;
    } else if (before > 0) after = before - 1;
    if (after !== before) vars.set('boot_counter', String(after));
  }
  vars.set('boot_success', '0');
  return { index, before, after };
}
