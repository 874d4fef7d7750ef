/**
 * Text forms of a summary, as `ostree summary --view` and `ostree remote
 * summary` print them (libostree's ot_dump_summary_bytes): refs with their
 * commit size, checksum and metadata, then the repository metadata with
 * friendly names for the keys OSTree knows. Times are shown in the local
 * time zone, as ostree shows them. Pure: values in, text out.
 */
import { formatSize } from '../format/byte-size.js';
import { byteswapValue, parseNormal, printValue, type VarDict } from '../format/gvariant.js';
import { swap64 } from '../format/objects.js';
import { SUMMARY_TYPE, summaryValue, type Summary, type SummaryRef } from '../repo/summary.js';

// Sizes are formatted in format/byte-size.ts; re-exported for the commands that take them from here.
export { formatSize };

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Seconds since the epoch as `%FT%T%:::z` in the local time zone: `2024-01-31T12:00:00+00`, `…+05:30`. */
export function formatIsoLocal(secs: bigint | number): string {
  const d = new Date(Number(secs) * 1000);
  if (Number.isNaN(d.getTime())) return 'invalid';
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  const zone = `${off < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}${a % 60 ? `:${pad(a % 60)}` : ''}`;
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${zone}`;
}

const MODES = new Set(['bare', 'bare-user', 'bare-user-only', 'archive-z2', 'archive', 'bare-split-xattrs']);

function renderRef(r: SummaryRef, collectionId: string | undefined): string {
  let out = collectionId === undefined ? `* ${r.name}\n` : `* (${collectionId}, ${r.name})\n`;
  out += `    Latest Commit (${formatSize(r.size)}):\n      ${r.checksum}\n`;
  for (const [k, v] of r.metadata) {
    if (k === 'ostree.commit.timestamp' && v.type === 't') out += `    Timestamp (${k}): ${formatIsoLocal(swap64(v.value as bigint))}\n`;
    else if (k === 'ostree.commit.version' && v.type === 's') out += `    Version (${k}): ${String(v.value)}\n`;
    else out += `    ${k}: ${printValue(v.type, v.value, false)}\n`;
  }
  return `${out}\n`;
}

function rawRefs(list: Array<[string, [bigint, Uint8Array, VarDict]]>): SummaryRef[] {
  return list.map(([name, [size, csum, metadata]]) => ({ name, size, checksum: Buffer.from(csum).toString('hex'), metadata }));
}

function renderMetadataEntry(k: string, type: string, value: unknown): string {
  const named = (pretty: string, text: string): string => `${pretty} (${k}): ${text}\n`;
  switch (k) {
    case 'ostree.static-deltas':
      return named('Static Deltas', printValue(type, value, false));
    case 'ostree.summary.last-modified':
      if (type === 't') return named('Last-Modified', formatIsoLocal(swap64(value as bigint)));
      break;
    case 'ostree.summary.expires':
      if (type === 't') return named('Expires', formatIsoLocal(swap64(value as bigint)));
      break;
    case 'ostree.summary.collection-id':
      if (type === 's') return named('Collection ID', String(value));
      break;
    case 'ostree.summary.collection-map':
      return named('Collection Map', '(printed above)');
    case 'ostree.summary.mode':
      if (type === 's') return named('Repository Mode', MODES.has(String(value)) ? String(value) : `Invalid (‘${String(value)}’)`);
      break;
    case 'ostree.summary.tombstone-commits':
      if (type === 'b') return named('Has Tombstone Commits', value ? 'Yes' : 'No');
      break;
  }
  return `${k}: ${printValue(type, value, false)}\n`;
}

/** The summary as `ostree summary --view` prints it. */
export function renderSummary(s: Summary): string {
  const collectionId = summaryValue(s.metadata, 'ostree.summary.collection-id', 's') as string | undefined;
  let out = s.refs.map((r) => renderRef(r, collectionId)).join('');
  const map = summaryValue(s.metadata, 'ostree.summary.collection-map', 'a{sa(s(taya{sv}))}') as
    Array<[string, Array<[string, [bigint, Uint8Array, VarDict]]>]> | undefined;
  for (const [id, list] of map ?? []) out += rawRefs(list).map((r) => renderRef(r, id)).join('');
  for (const [k, v] of s.metadata) out += renderMetadataEntry(k, v.type, v.value);
  return out;
}

/** `--raw`: the whole summary in GVariant text with type annotations, numbers as a big-endian host reads them. */
export function renderSummaryRaw(bytes: Uint8Array): string {
  const value = parseNormal(SUMMARY_TYPE, bytes);
  return `${printValue(SUMMARY_TYPE, byteswapValue(SUMMARY_TYPE, value), true)}\n`;
}
