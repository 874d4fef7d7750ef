/** GLib's %c in the C locale: a one-digit day padded with U+2007, local time (the zone from TZ). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIGURE_SPACE, formatGlibDateTime, glibDayOfMonth } from '../../src/format/index.js';

test('formatGlibDateTime pads one-digit days with a figure space, in the local zone', () => {
  const saved = process.env.TZ;
  try {
    process.env.TZ = 'UTC';
    assert.equal(formatGlibDateTime(Date.parse('2026-12-01T22:36:23Z') / 1000), `Tue Dec ${FIGURE_SPACE}1 22:36:23 2026`);
    assert.equal(formatGlibDateTime(Date.parse('2026-11-14T07:46:48Z') / 1000), 'Sat Nov 14 07:46:48 2026');
    assert.equal(Buffer.from(formatGlibDateTime(0)).toString('hex').includes('e28087'), true, 'U+2007 as UTF-8 bytes e2 80 87');
    process.env.TZ = 'America/St_Johns'; // -03:30 in winter
    assert.equal(formatGlibDateTime(Date.parse('2026-01-10T02:00:00Z') / 1000), `Fri Jan ${FIGURE_SPACE}9 22:30:00 2026`);
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
  assert.equal(glibDayOfMonth(9), '\u20079');
  assert.equal(glibDayOfMonth(10), '10');
});
