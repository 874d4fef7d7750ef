/**
 * Byte counts as people read them. Two forms, each for its own audience:
 * `formatBytes` in powers of 1024 (KiB, MiB: progress lines, results), and
 * `formatSize` in powers of 1000 exactly as GLib's g_format_size writes it
 * (what ostree prints, so output can match it byte for byte). Pure.
 */

/** `n` bytes in powers of 1024: "512 B", "1.5 KiB", "3.8 MiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

const NBSP = '\u00a0';
const SI_UNITS = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/** A size as GLib's g_format_size writes it: "134 bytes", "1.6 kB" (powers of 1000, a no-break space before the unit). */
export function formatSize(size: bigint | number): string {
  const n = Number(size);
  if (n < 1000) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  let i = 0;
  while (i + 1 < SI_UNITS.length && n >= 1000 ** (i + 2)) i++;
  return `${(n / 1000 ** (i + 1)).toFixed(1)}${NBSP}${SI_UNITS[i]}`;
}
