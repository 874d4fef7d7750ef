/** The firmware's choices, as pure functions: systemd-boot's entry order and default glob, greenboot's GRUB counter rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlsEntry } from '../../src/format/index.js';
import { spawnSync } from 'node:child_process';
import { requireTool } from '../helpers/env.js';
import { chooseEntry, compareFirmwareEntries, globMatch, grubBoot, grubSnippet, loaderConfDefault, type FirmwareEntry } from '../../src/sysroot/index.js';

function entry(name: string, keys: Record<string, string> = { linux: '/vmlinuz' }): FirmwareEntry {
  const e = new BlsEntry();
  for (const [k, v] of Object.entries(keys)) e.set(k, v);
  const m = /\+([0-9]+)(?:-([0-9]+))?\.conf$/.exec(name);
  return { name, entry: e, triesLeft: m ? Number(m[1]) : -1, triesDone: m?.[2] ? Number(m[2]) : 0 };
}

function order(...es: FirmwareEntry[]): string[] {
  return [...es].sort(compareFirmwareEntries).map((e) => e.name);
}

test('systemd-boot order: no tries left last; sort-key first, then by sort-key, machine-id, version descending; else name descending', () => {
  assert.deepEqual(order(entry('ostree-1-os.conf'), entry('ostree-2-os+0-3.conf'), entry('ostree-3-os+2-1.conf')),
    ['ostree-3-os+2-1.conf', 'ostree-1-os.conf', 'ostree-2-os+0-3.conf']);
  assert.deepEqual(order(entry('ostree-9-os.conf'), entry('ostree-10-os.conf')), ['ostree-10-os.conf', 'ostree-9-os.conf'], 'versions compare as numbers');
  assert.deepEqual(order(entry('zzz.conf'), entry('aaa.conf', { 'sort-key': 'b' })), ['aaa.conf', 'zzz.conf'], 'a sort-key wins');
  assert.deepEqual(order(entry('a.conf', { 'sort-key': 'x', version: '1.2' }), entry('b.conf', { 'sort-key': 'x', version: '1.10' }), entry('c.conf', { 'sort-key': 'w' })),
    ['c.conf', 'b.conf', 'a.conf']);
  assert.deepEqual(order(entry('e+1-1.conf'), entry('e+1-2.conf')), ['e+1-2.conf', 'e+1-1.conf'], 'the name compared holds the counter');
});

test('loader.conf default: the last default line, @saved not emulated; a glob matches in sort order and does not skip a bad entry', () => {
  assert.equal(loaderConfDefault('timeout 3\ndefault ostree-*\n'), 'ostree-*');
  assert.equal(loaderConfDefault('default a\ndefault  b \n'), 'b');
  assert.equal(loaderConfDefault('default @saved\n'), null);
  assert.equal(loaderConfDefault(null), null);
  assert.ok(globMatch('ostree-*', 'ostree-2-os+1-2.conf'));
  assert.ok(globMatch('ostree-?-os.conf', 'ostree-2-os.conf'));
  assert.ok(globMatch('[ab]*.conf', 'b1.conf'));
  assert.ok(!globMatch('ostree-*', 'windows.conf'));
  const sorted = [entry('windows.conf'), entry('ostree-2-os+1.conf'), entry('ostree-1-os.conf')].sort(compareFirmwareEntries);
  assert.deepEqual(sorted.map((e) => e.name), ['windows.conf', 'ostree-2-os+1.conf', 'ostree-1-os.conf']);
  assert.deepEqual(chooseEntry(sorted, 'ostree-*'), { chosen: sorted[1], next: 'ostree-2-os+0-1.conf' });
  assert.equal(chooseEntry(sorted, null)?.chosen.name, 'windows.conf');
  const onlyBad = [entry('ostree-1-os+0-3.conf')];
  assert.deepEqual(chooseEntry(onlyBad, 'ostree-*'), { chosen: onlyBad[0], next: 'ostree-1-os+0-4.conf' }, 'a bad entry still boots when it is all there is');
  assert.equal(chooseEntry([], null), null);
  assert.equal(chooseEntry([entry('shell+3.conf', { efi: '/shell.efi' })], null)?.next, null, 'a chainloaded EFI program is not counted');
  assert.equal(chooseEntry([entry('uki+3.conf', { uki: '/uki.efi' })], null)?.next, 'uki+2-1.conf');
  assert.equal(chooseEntry([entry('linux-6.1+1.efi', {})], null)?.next, 'linux-6.1+0-1.efi', 'a unified kernel image in EFI/Linux is counted');
});

test('greenboot GRUB rules: decrement while boot_success=0, 0 or -1 boots the second entry and sets -1, boot_success=0 always saved', () => {
  const boot = (vars: Record<string, string>): [ReturnType<typeof grubBoot>, Record<string, string>] => {
    const m = new Map(Object.entries(vars));
    const r = grubBoot(m);
    return [r, Object.fromEntries(m)];
  };
  assert.deepEqual(boot({ boot_counter: '3', boot_success: '0' }), [{ index: 0, before: 3, after: 2 }, { boot_counter: '2', boot_success: '0' }]);
  assert.deepEqual(boot({ boot_counter: '1', boot_success: '0' }), [{ index: 0, before: 1, after: 0 }, { boot_counter: '0', boot_success: '0' }]);
  assert.deepEqual(boot({ boot_counter: '0', boot_success: '0' }), [{ index: 1, before: 0, after: -1 }, { boot_counter: '-1', boot_success: '0' }]);
  assert.deepEqual(boot({ boot_counter: '-1', boot_success: '0' }), [{ index: 1, before: -1, after: -1 }, { boot_counter: '-1', boot_success: '0' }]);
  assert.deepEqual(boot({ boot_counter: '2', boot_success: '1' }), [{ index: 0, before: 2, after: 2 }, { boot_counter: '2', boot_success: '0' }], 'a blessed boot is not counted');
  assert.deepEqual(boot({ boot_success: '1' }), [{ index: 0, before: null, after: null }, { boot_success: '0' }]);
  assert.deepEqual(boot({}), [{ index: 0, before: null, after: null }, { boot_success: '0' }]);
});

test('the GRUB snippet for /etc/grub.d: valid sh writing valid GRUB script, and every step it spells out is the step the emulation takes', async (t) => {
  const text = grubSnippet(5);
  const r = spawnSync('sh', ['-n'], { input: text });
  assert.equal(r.status, 0, `sh -n: ${r.stderr}`);
  const out = spawnSync('sh', [], { input: text }).stdout.toString();
  if (await requireTool(t, 'grub-script-check', 'grub-common')) {
    const check = spawnSync('grub-script-check', [], { input: out });
    assert.equal(check.status, 0, `grub-script-check: ${check.stderr}${check.stdout}`);
    const broken = spawnSync('grub-script-check', [], { input: out.replace(/\n  fi\n/, '\n') });
    assert.notEqual(broken.status, 0, 'grub-script-check does refuse a broken script');
  }
  assert.ok(out.startsWith('if [ -n "${boot_counter}" -a "${boot_success}" = "0" ]; then\n'), out);
  const steps = [...out.matchAll(/"\$\{boot_counter\}" = "(-?[0-9]+)" \]; then\n\s+set boot_counter=(-?[0-9]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  assert.deepEqual(steps, [[1, 0], [2, 1], [3, 2], [4, 3], [5, 4]]);
  for (const [from, to] of steps) assert.equal(grubBoot(new Map([['boot_counter', String(from)], ['boot_success', '0']])).after, to);
  assert.match(out, /"\$\{boot_counter\}" = "0" -o "\$\{boot_counter\}" = "-1" \]; then\n\s+set default=1\n\s+set boot_counter=-1/);
  for (const c of ['0', '-1']) assert.deepEqual(grubBoot(new Map([['boot_counter', c], ['boot_success', '0']])), { index: 1, before: Number(c), after: -1 });
  assert.match(out, /set boot_success=0\nsave_env boot_success\n$/);
});
