/** Byte counts: powers of 1024 for our own lines, GLib's g_format_size (powers of 1000) where output matches ostree. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatSize } from '../../src/format/index.js';

test('formatBytes: B below 1024, then one decimal in KiB, MiB, GiB, TiB', () => {
  const table: Array<[number, string]> = [
    [0, '0 B'], [1023, '1023 B'], [1024, '1.0 KiB'], [1536, '1.5 KiB'], [1024 * 1024 - 1, '1024.0 KiB'],
    [4 * 1024 ** 2, '4.0 MiB'], [3 * 1024 ** 3, '3.0 GiB'], [2 ** 50, '1024.0 TiB'],
  ];
  for (const [n, text] of table) assert.equal(formatBytes(n), text, String(n));
});

test('formatSize: as g_format_size, "byte"/"bytes" below 1000, then kB … EB after a no-break space', () => {
  const table: Array<[number | bigint, string]> = [
    [0, '0 bytes'], [1, '1 byte'], [134, '134 bytes'], [999, '999 bytes'], [1000, '1.0\u00a0kB'], [1600, '1.6\u00a0kB'],
    [999_999, '1000.0\u00a0kB'], [1_000_000, '1.0\u00a0MB'], [2_500_000_000n, '2.5\u00a0GB'], [10n ** 18n, '1.0\u00a0EB'], [10n ** 21n, '1000.0\u00a0EB'],
  ];
  for (const [n, text] of table) assert.equal(formatSize(n), text, String(n));
});
