/** Boot counters in entry names, as the Boot Loader Specification and systemd-boot read and write them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { badName, blessedName, counterSuffix, decrementedName, parseBootCounter, withCounter } from '../../src/format/index.js';

test('parseBootCounter: every form of the counter, the last + counting, directly before .conf or .efi', () => {
  const table: Array<[string, ReturnType<typeof parseBootCounter>]> = [
    ['ostree-1-debian+3.conf', { stem: 'ostree-1-debian', left: 3, done: 0, ext: '.conf' }],
    ['ostree-1-debian+2-1.conf', { stem: 'ostree-1-debian', left: 2, done: 1, ext: '.conf' }],
    ['ostree-1-debian+0-3.conf', { stem: 'ostree-1-debian', left: 0, done: 3, ext: '.conf' }],
    ['ostree-1-debian+0.conf', { stem: 'ostree-1-debian', left: 0, done: 0, ext: '.conf' }],
    ['linux+10-0.efi', { stem: 'linux', left: 10, done: 0, ext: '.efi' }],
    ['a+b+5-2.conf', { stem: 'a+b', left: 5, done: 2, ext: '.conf' }],
    ['+1.conf', { stem: '', left: 1, done: 0, ext: '.conf' }],
    ['ostree-2+03.conf', { stem: 'ostree-2', left: 3, done: 0, ext: '.conf' }],
    ['x+65535-65535.conf', { stem: 'x', left: 65535, done: 65535, ext: '.conf' }],
    // No counter, or not one systemd-boot reads.
    ['ostree-1-debian.conf', null],
    ['ostree-1-debian+3.conf.bak', null],
    ['ostree-1-debian+3.txt', null],
    ['a+3-b.conf', null],
    ['a+3+x.conf', null],
    ['a+-1.conf', null],
    ['a+3-.conf', null],
    ['a+.conf', null],
    ['a+3 .conf', null],
    ['x+65536.conf', null],
  ];
  for (const [name, want] of table) assert.deepEqual(parseBootCounter(name), want, name);
});

test('decrementedName: +3 → +2-1 → +1-2 → +0-3 → +0-4, unpadded; an uncounted name is not renamed', () => {
  const seq = ['ostree-2-debian+3.conf'];
  for (let i = 0; i < 4; i++) seq.push(decrementedName(seq[seq.length - 1])!);
  assert.deepEqual(seq, ['ostree-2-debian+3.conf', 'ostree-2-debian+2-1.conf', 'ostree-2-debian+1-2.conf', 'ostree-2-debian+0-3.conf', 'ostree-2-debian+0-4.conf']);
  assert.equal(decrementedName('e+10.efi'), 'e+9-1.efi');
  assert.equal(decrementedName('e+03-007.conf'), 'e+2-8.conf', 'written unpadded, as systemd-boot writes it');
  assert.equal(decrementedName('ostree-1-debian.conf'), null);
});

test('blessedName removes the counter; badName gives +0-DONE, or +0 when nothing was done', () => {
  assert.equal(blessedName('ostree-2-debian+1-2.conf'), 'ostree-2-debian.conf');
  assert.equal(blessedName('ostree-2-debian+3.conf'), 'ostree-2-debian.conf');
  assert.equal(blessedName('ostree-2-debian.conf'), 'ostree-2-debian.conf');
  assert.equal(blessedName('a+b+1-1.efi'), 'a+b.efi');
  assert.equal(badName('ostree-2-debian+1-2.conf'), 'ostree-2-debian+0-2.conf');
  assert.equal(badName('ostree-2-debian+3.conf'), 'ostree-2-debian+0.conf');
  assert.equal(badName('ostree-2-debian+0-3.conf'), 'ostree-2-debian+0-3.conf');
  assert.equal(badName('ostree-2-debian.conf'), 'ostree-2-debian+0.conf');
});

test('withCounter and counterSuffix write the counter libostree and systemd-boot write', () => {
  assert.equal(counterSuffix({ left: 3, done: 0 }), '+3');
  assert.equal(counterSuffix({ left: 1, done: 2 }), '+1-2');
  assert.equal(withCounter('ostree-3-debian.conf', { left: 3, done: 0 }), 'ostree-3-debian+3.conf');
  assert.equal(withCounter('ostree-3-debian+0-3.conf', { left: 2, done: 0 }), 'ostree-3-debian+2.conf');
  assert.equal(withCounter('ostree-3-debian+1-2.conf', null), 'ostree-3-debian.conf');
  assert.equal(withCounter('README', { left: 1, done: 0 }), 'README', 'not an entry: unchanged');
  // Every name the sequence goes through parses back to what was written.
  for (const c of [{ left: 3, done: 0 }, { left: 2, done: 1 }, { left: 0, done: 3 }]) {
    const p = parseBootCounter(withCounter('e.conf', c));
    assert.deepEqual(p && { left: p.left, done: p.done }, c);
  }
});
