/** How host documents and messages write times and sizes. */

/** A commit's timestamp (seconds) as ISO 8601 UTC, without milliseconds. */
export function formatTime(ts: bigint): string {
  return new Date(Number(ts) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/** Bytes in B, KiB, MiB, GiB or TiB, one decimal. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${u[i]}`;
}
