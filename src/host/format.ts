/** How host documents and messages write times and sizes. */

/** A commit's timestamp (seconds) as ISO 8601 UTC, without milliseconds. */
export function formatTime(ts: bigint): string {
  return new Date(Number(ts) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/** Bytes in B, KiB, MiB, GiB or TiB, one decimal (the one formatter of the format layer). */
export { formatBytes } from '../format/byte-size.js';
