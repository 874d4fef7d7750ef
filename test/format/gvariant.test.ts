import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parse, parseNormal, serialize, printValue, byteswapValue, parseVariantText } from '../../src/format/index.js';
import { ok, ostree, requireOstree, tempDir } from '../helpers/env.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// GLib 2.74 serializations (specification §8.7 and §1).
const VECTORS: Array<[string, unknown, string]> = [
  ['y', 7, '07'],
  ['b', true, '01'],
  ['q', 0x1234, '3412'],
  ['u', 0x01020304, '04030201'],
  ['t', 0x0102030405060708n, '0807060504030201'],
  ['s', '', '00'],
  ['ay', Buffer.alloc(0), ''],
  ['au', [1, 2], '01000000 02000000'],
  ['as', ['a'], '610002'],
  ['as', ['a', 'bc'], '6100626300 0205'],
  ['(ty)', [1n, 2], '0100000000000000 0200000000000000'],
  ['()', [], '00'],
  ['(sy)', ['ab', 1], '616200 01 03'],
  ['(ys)', [1, 'ab'], '01 616200'],
  ['(sss)', ['a', 'b', 'c'], '6100 6200 6300 0402'],
  ['a{sv}', [], ''],
  ['a{sv}', [['k', { type: 'u', value: 5 }]], '6b00 000000000000 05000000 00 75 02 0f'],
  ['a{sv}', [['k', { type: 't', value: 5n }]], '6b00 000000000000 0500000000000000 00 74 02 13'],
  ['a{sv}', [['a', { type: 's', value: 'x' }]], '6100 000000000000 7800 00 73 02 0d'],
  ['v', { type: 's', value: 'hi' }, '686900 00 73'],
  ['v', { type: 'u', value: 1 }, '01000000 00 75'],
  ['v', { type: 'as', value: ['a'] }, '610002 00 6173'],
  ['ms', 'ab', '616200 00'],
  ['ms', null, ''],
  ['mu', 5, '05000000'],
  ['(a{sv}ay)', [[], Buffer.alloc(0)], '00'],
  ['(uuua(ayay))', [1, 2, 3, [[Buffer.from('user.a\0'), Buffer.from('v')]]], '01000000 02000000 03000000 757365722e6100 76 07 09'],
  ['(tuuuusa(ayay))', [0n, 0, 0, 0o100644, 0, '', []], '0000000000000000 00000000 00000000 a4810000 00000000 00 19'],
  ['(yat)', [1, []], '0100000000000000'],
  ['(sat)', ['a', []], '6100 000000000000 02'],
  ['(yatu)', [1, [], 2], '01 00000000000000 02000000 08'],
  ['a(say)', [['a', Buffer.from([1])], ['bc', Buffer.from([2, 3])]], '6100 01 02 626300 0203 03 040a'],
];

test('serialize matches GLib byte for byte', () => {
  for (const [type, value, bytes] of VECTORS) {
    assert.equal(serialize(type, value).toString('hex'), hex(bytes).toString('hex'), `${type} ${printValue(type, value)}`);
  }
});

test('parse inverts serialize for every vector', () => {
  for (const [type, value, bytes] of VECTORS) {
    const back = parseNormal(type, hex(bytes));
    assert.equal(serialize(type, back).toString('hex'), hex(bytes).toString('hex'), type);
    if (type === 'u' || type === 's' || type === 'as') assert.deepEqual(back, value);
  }
});

test('framing offsets widen from 1 to 2 bytes exactly where GLib widens them', () => {
  assert.equal(serialize('as', ['x'.repeat(253)]).length, 255);
  const wide = serialize('as', ['x'.repeat(254)]);
  assert.equal(wide.length, 257);
  assert.equal(wide.readUInt16LE(255), 255);
  assert.equal(serialize('(ss)', ['x'.repeat(251), 'y']).length, 255);
  assert.equal(serialize('(ss)', ['x'.repeat(252), 'y']).length, 257);
  assert.deepEqual(parse('as', wide), ['x'.repeat(254)]);
});

test('strict parser rejects what GLib would silently default', () => {
  const bad: Array<[string, string, RegExp]> = [
    ['u', '0000', /must be 4 bytes/],
    ['(uu)', '00000000', /must be 8 bytes/],
    ['s', '6162', /terminating zero/],
    ['s', '610062 00', /embedded zero/],
    ['s', 'ff00', /UTF-8/],
    ['as', '6100 09', /framing offset/],
    ['b', '02', /only 0 and 1/],
    ['v', '01000000 00 7a', /invalid type/],
    ['ms', '616200', /zero byte/],
    ['(yat)', '0101000000000000', /Non-zero padding/],
    ['(sy)', '616200 01 07', /out-of-range/],
    ['au', '010000', /multiple of 4/],
  ];
  for (const [type, bytes, re] of bad) {
    assert.throws(() => parse(type, hex(bytes)), (e: Error & { code?: string }) => e.code === 'E_GVARIANT_INVALID' && re.test(e.message), `${type} ${bytes}`);
  }
  // A 2-byte offset where 1 byte suffices is valid layout but not normal form.
  assert.throws(() => parseNormal('as', hex('6100 0200')), /not in normal form|framing offset/);
});

test('deeply nested variants are refused, not overflowed', () => {
  let v: unknown = { type: 'u', value: 1 };
  for (let i = 0; i < 80; i++) v = { type: 'v', value: v };
  const bytes = serialize('v', v);
  assert.throws(() => parse('v', bytes), /deeper than 64/);
});

test('text format parses what ostree commit --add-metadata takes', () => {
  assert.deepEqual(parseVariantText('uint32 5'), { type: 'u', value: 5 });
  assert.deepEqual(parseVariantText("'hello'"), { type: 's', value: 'hello' });
  assert.deepEqual(parseVariantText('true'), { type: 'b', value: true });
  assert.deepEqual(parseVariantText('42'), { type: 'i', value: 42 });
  assert.deepEqual(parseVariantText("['a', 'b']"), { type: 'as', value: ['a', 'b'] });
  assert.deepEqual(parseVariantText('@as []'), { type: 'as', value: [] });
  assert.deepEqual(parseVariantText('int64 -3'), { type: 'x', value: -3n });
  assert.throws(() => parseVariantText('byte 300'), /out of range/);
  assert.throws(() => parseVariantText('[1, "a"]'), /is expected/);
});

test('printing and byte-swapping follow GLib', () => {
  assert.equal(printValue('as', ['a']), "['a']");
  assert.equal(printValue('as', []), '@as []');
  assert.equal(printValue('u', 5), 'uint32 5');
  assert.equal(printValue('a(ayay)', [[Buffer.from('user.x\0'), Buffer.from('1')]]), "[(b'user.x', [byte 0x31])]");
  assert.equal(byteswapValue('u', 5), 83886080);
  assert.equal(byteswapValue('t', 1n), 72057594037927936n);
});

test('byte arrays print as ostree prints them: a byte string when the only zero byte ends them', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await mkdir(path.join(dir, 'tree'));
  await writeFile(path.join(dir, 'tree', 'a'), 'a\n');
  await ok(ostree('init', `--repo=${repo}`, '--mode=archive'));
  const every = Buffer.from([...Array.from({ length: 255 }, (_, i) => i + 1), 0]);
  // A static-delta digest ends in a zero byte once in 256 summaries; random ones, with and without a quote.
  const random = Array.from({ length: 4 }, () => Buffer.concat([randomBytes(31).map((x) => x || 1), Buffer.from([0])]));
  t.diagnostic(`random cases: ${random.map((b) => b.toString('hex')).join(' ')}`);
  const cases = [every, every.subarray(0x28), Buffer.from("A'\0"), Buffer.from('A"\\\0'), Buffer.from([0]), Buffer.from([0x41, 0, 0x42, 0]), Buffer.from([0x41, 0x42]), ...random];
  for (const bytes of cases) {
    const text = `[${Array.from(bytes, (x, i) => `${i === 0 ? 'byte ' : ''}0x${x.toString(16).padStart(2, '0')}`).join(', ')}]`;
    const commit = await ok(ostree('commit', `--repo=${repo}`, '-b', 'x', `--tree=dir=${path.join(dir, 'tree')}`, `--add-metadata=k=${text}`));
    const expected = await ok(ostree('show', `--repo=${repo}`, '--print-metadata-key=k', commit));
    assert.equal(printValue('ay', bytes), expected, bytes.toString('hex'));
  }
});
