/**
 * Issue 18, offline updates through collection IDs: a repository written onto
 * a stick by `create-usb` (a loop-mounted ext4 image under /media, which is
 * where GIO, and so ostree's mount finder, looks for removable media) is found
 * by `find-remotes` and pulled from with no network, by each tool from a stick
 * the other wrote. Commits are signed with GnuPG: a pull from a found
 * repository always requires the signatures of the remote with that
 * collection ID.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readlink, rmdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, ots, requireOstree, requireRoot, requireTool, run, tempDir } from '../helpers/env.js';
import { makeGpgKey, requireGpgTools, type GpgKey } from '../helpers/gpg.js';
import { mediaMounts, parseMountInfo } from '../../src/io/mounts.js';

type Tool = typeof ots;
const TOOLS: Array<[string, Tool]> = [['ostree-ts', ots], ['ostree', ostree]];

/** A fresh ext4 image loop-mounted at /media/NAME, unmounted and removed after the test (or by `unmount`). */
async function mountStick(t: TestContext, dir: string, name: string): Promise<string> {
  return (await stick(t, dir, name)).at;
}

async function stick(t: TestContext, dir: string, name: string): Promise<{ at: string; unmount: () => Promise<void> }> {
  const image = path.join(dir, `${name}.img`);
  await ok(run('truncate', ['-s', '48M', image]));
  await ok(run('mkfs.ext4', ['-q', '-F', image]), 'mkfs.ext4');
  const at = path.join('/media', name);
  await mkdir(at, { recursive: true });
  await ok(run('mount', ['-o', 'loop', image, at]), `mount ${image}`);
  let mounted = true;
  const unmount = async (): Promise<void> => {
    if (!mounted) return;
    mounted = false;
    await run('umount', [at]);
    await rmdir(at).catch(() => undefined);
  };
  t.after(unmount);
  return { at, unmount };
}

interface World {
  dir: string;
  key: GpgKey;
  collection: string;
  src: string;
  commit: string;
}

/** A source repository with its own collection ID and one signed commit on os/stable (and an unsigned one on os/unsigned). */
async function world(t: TestContext): Promise<World | null> {
  if (!(await requireOstree(t)) || !(await requireGpgTools(t)) || !(await requireTool(t, 'mkfs.ext4', 'e2fsprogs'))) return null;
  if (!requireRoot(t, 'loop-mounting a stick image under /media')) return null;
  const dir = await tempDir(t);
  // A collection ID of its own per run, so that sticks other runs left mounted never answer for it.
  const seed = randomBytes(4).toString('hex');
  t.diagnostic(`collection seed ${seed}`);
  const collection = `org.example.UsbTest${seed}`;
  const key = await makeGpgKey(dir, 'Usb Signer', '2026-01-01 00:00:00');
  const src = path.join(dir, 'src');
  await ok(ots(`--repo=${src}`, 'init', '--mode=archive', `--collection-id=${collection}`));
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'usr', 'bin'), { recursive: true });
  await writeFile(path.join(tree, 'usr', 'bin', 'hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
  const commit = await ok(ots(`--repo=${src}`, 'commit', '-b', 'os/stable', '-s', 'v1', '--timestamp=@1780000000', tree));
  // Signed by GnuPG itself (through ostree), from the key's home.
  await ok(ostree(`--repo=${src}`, 'gpg-sign', `--gpg-homedir=${key.home}`, 'os/stable', key.fingerprint), 'gpg-sign');
  await ok(ots(`--repo=${src}`, 'commit', '-b', 'os/unsigned', '-s', 'unsigned', '--timestamp=@1780000100', tree));
  return { dir, key, collection, src, commit };
}

/** A host repository whose remote has the collection ID and trusts the key; its URL is a closed loopback port (no network). */
async function host(w: World, name: string, tool: Tool = ots): Promise<string> {
  const repo = path.join(w.dir, name);
  await ok(tool(`--repo=${repo}`, 'init', '--mode=bare-user'));
  await ok(tool(`--repo=${repo}`, 'remote', 'add', `--collection-id=${w.collection}`, 'origin', 'http://127.0.0.1:9/repo'));
  await ok(tool(`--repo=${repo}`, 'remote', 'gpg-import', '-k', w.key.publicFile, 'origin'));
  return repo;
}

test('mount rules: only whole filesystems under /media, /run/media/USER or home count as media', () => {
  const info = [
    '22 1 254:0 / / rw - ext4 /dev/vda rw',
    '30 22 0:5 / /proc rw - proc proc rw',
    '40 22 7:0 / /media/stick rw - vfat /dev/loop0 rw',
    '41 22 254:0 /srv/dir /media/bound rw - ext4 /dev/vda rw',
    '42 22 0:40 / /media/ram rw - tmpfs none rw',
    '43 22 7:1 / /run/media/alice/KEY\\040ONE rw,relatime shared:1 - exfat /dev/sdb1 rw',
    '44 22 7:2 / /run/media/bob/OTHER rw - ext4 /dev/sdc1 rw',
    '45 22 7:3 / /home/alice/.hidden/x rw - ext4 /dev/sdd1 rw',
    '46 22 7:4 / /home/alice/usb rw - ext4 /dev/sde1 rw',
  ].join('\n');
  const entries = parseMountInfo(info);
  assert.equal(entries.length, 9);
  assert.equal(entries[5].mountPoint, '/run/media/alice/KEY ONE');
  assert.equal(entries[5].fsType, 'exfat');
  const shown = mediaMounts(entries, { user: 'alice', home: '/home/alice' }).map((m) => m.mountPoint);
  assert.deepEqual(shown, ['/media/stick', '/run/media/alice/KEY ONE', '/home/alice/usb']);
});

for (const [writer, writeTool] of TOOLS) {
  for (const [reader, readTool] of TOOLS) {
    if (writer === 'ostree' && reader === 'ostree') continue;
    test(`create-usb by ${writer}, find-remotes --pull by ${reader}: the update arrives with no network`, async (t) => {
      const w = await world(t);
      if (!w) return;
      const stick = await mountStick(t, w.dir, `ots-${randomBytes(3).toString('hex')}`);
      const copied = await ok(writeTool(`--repo=${w.src}`, 'create-usb', stick, w.collection, 'os/stable'), `${writer} create-usb`);
      assert.equal(copied, `Copied 1/1 refs successfully from ‘${w.src}’ to ‘.ostree/repo’ repository in ‘${stick}’.`);
      const stickRepo = path.join(stick, '.ostree', 'repo');
      await ok(ostree('fsck', `--repo=${stickRepo}`), 'ostree fsck of the stick');
      assert.equal(await ok(ostree(`--repo=${stickRepo}`, 'refs', '--collections')), `(${w.collection}, os/stable)`);

      const h = await host(w, 'host', readTool);
      // Both tools see the same result before anything is pulled.
      const ours = await ok(ots(`--repo=${h}`, 'find-remotes', w.collection, 'os/stable'));
      const theirs = await ok(ostree(`--repo=${h}`, 'find-remotes', w.collection, 'os/stable'));
      assert.equal(ours, theirs);
      assert.match(ours, new RegExp(`^Result 0: file://${stickRepo}\\n - Finder: OstreeRepoFinderMount\\n - Keyring: origin.trustedkeys.gpg\\n - Priority: 50\\n`));
      assert.match(ours, new RegExp(`\\(${w.collection}, os/stable\\) = ${w.commit}\\n\\n1/1 refs were found\\.$`));

      const pulled = await ok(readTool(`--repo=${h}`, 'find-remotes', '--finders=mount', '--pull', w.collection, 'os/stable'), `${reader} find-remotes --pull`);
      assert.match(pulled, /Pulled 1\/1 refs successfully\.$/);
      assert.equal(await ok(ostree(`--repo=${h}`, 'rev-parse', 'origin:os/stable')), w.commit);
      await ok(ostree('fsck', `--repo=${h}`), 'ostree fsck of the host');
    });
  }
}

test('find-remotes refuses a commit on the stick that the remote\'s keys did not sign, as ostree does', async (t) => {
  const w = await world(t);
  if (!w) return;
  const stick = await mountStick(t, w.dir, `ots-${randomBytes(3).toString('hex')}`);
  await ok(ots(`--repo=${w.src}`, 'create-usb', stick, w.collection, 'os/unsigned'));
  for (const [name, tool] of TOOLS) {
    const h = await host(w, `host-${name}`);
    const r = await tool(`--repo=${h}`, 'find-remotes', '--pull', w.collection, 'os/unsigned');
    assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`Failed to pull some refs from the remotes: \\(${w.collection}, os/unsigned\\)`));
    assert.equal((await ostree(`--repo=${h}`, 'rev-parse', 'origin:os/unsigned')).code, 1, `${name} moved the ref`);
  }
});

test('create-usb --destination-repo links the repository from .ostree/repos.d, as ostree does, and --mirror pulls write collection–refs', async (t) => {
  const w = await world(t);
  if (!w) return;
  const links: string[] = [];
  for (const [name, tool] of TOOLS) {
    const medium = await stick(t, w.dir, `ots-${randomBytes(3).toString('hex')}`);
    const at = medium.at;
    await ok(tool(`--repo=${w.src}`, 'create-usb', '--destination-repo=updates/os', at, w.collection, 'os/stable'), `${name} create-usb`);
    links.push(await readlink(path.join(at, '.ostree', 'repos.d', '00-generated')));
    // Found through the link by either tool, and pulled as a mirror.
    const h = await host(w, `mirror-${name}`);
    const found = await ok(ostree(`--repo=${h}`, 'find-remotes', w.collection, 'os/stable'));
    assert.match(found, new RegExp(`^Result 0: file://${path.join(at, 'updates', 'os')}\\n`));
    await ok(ots(`--repo=${h}`, 'find-remotes', '--pull', '--mirror', w.collection, 'os/stable'));
    assert.equal(await ok(ostree(`--repo=${h}`, 'refs', '--collections')), `(${w.collection}, os/stable)`);
    assert.equal((await ostree(`--repo=${h}`, 'rev-parse', 'origin:os/stable')).code, 1, 'a mirror pull writes no remote ref');
    await medium.unmount();
  }
  assert.deepEqual(links, ['../../updates/os', '../../updates/os']);
});

test('find-remotes and create-usb refuse bad arguments with ostree\'s exit status', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ostree(`--repo=${repo}`, 'init', '--mode=archive'));
  const cases: string[][] = [
    ['find-remotes'],
    ['find-remotes', 'org.example.Os'],
    ['find-remotes', 'bad/id', 'x'],
    ['find-remotes', '--mirror', 'org.example.Os', 'os/stable'],
    ['find-remotes', '--finders=', 'org.example.Os', 'os/stable'],
    ['find-remotes', '--finders=config,config', 'org.example.Os', 'os/stable'],
    ['find-remotes', '--finders=mount', 'org.example.Os', 'os/stable'],
    ['create-usb', path.join(dir, 'absent'), 'org.example.Os', 'os/stable'],
    ['create-usb', dir, 'org.example.Os'],
    ['create-usb', dir, 'org.example.Os', 'os/nothere'],
  ];
  for (const c of cases) {
    const theirs = await ostree(`--repo=${repo}`, ...c);
    const ours = await ots(`--repo=${repo}`, ...c);
    assert.equal(ours.code, theirs.code, `${c.join(' ')}: ${ours.stderr}`);
    if (theirs.code === 0) assert.equal(ours.stdout, theirs.stdout, c.join(' '));
    else assert.doesNotMatch(ours.stderr, /\n\s+at /, 'no stack trace');
  }
  // A ref the source lacks is found out before anything is made on the stick (ostree leaves an empty repository there).
  const fresh = path.join(dir, 'fresh-stick');
  await mkdir(fresh);
  const r = await ots(`--repo=${repo}`, 'create-usb', fresh, 'org.example.Os', 'os/nothere');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\(org\.example\.Os, os\/nothere\) not found in .*; nothing was written to /);
  assert.deepEqual(await readdir(fresh), []);
});

test('the summary lists mirrored refs and remote refs with a collection ID in its collection map, as ostree writes it', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const src = path.join(dir, 'src');
  const tree = path.join(dir, 'tree');
  await mkdir(tree);
  await writeFile(path.join(tree, 'a'), 'a\n');
  await ok(ostree(`--repo=${src}`, 'init', '--mode=archive', '--collection-id=org.example.Src'));
  await ok(ostree(`--repo=${src}`, 'commit', '-b', 'os/a', '--timestamp=@1780000000', `--tree=dir=${tree}`));
  await ok(ostree(`--repo=${src}`, 'commit', '-b', 'os/b', '--timestamp=@1780000050', `--tree=dir=${tree}`));
  const views: string[] = [];
  for (const [name, tool] of TOOLS) {
    const repo = path.join(dir, `repo-${name}`);
    // No collection ID of its own, as a repository on a stick: (with one, ostree also commits an ostree-metadata ref, which ostree-ts does not.)
    await ok(ostree(`--repo=${repo}`, 'init', '--mode=archive'));
    await ok(ostree(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', '--collection-id=org.example.Src', 'origin', `file://${src}`));
    await ok(ostree(`--repo=${repo}`, 'pull', 'origin', 'os/a'));
    await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1780000100', `--tree=dir=${tree}`));
    // A mirrored ref of another collection: os/b's commit under refs/mirrors.
    const b = await ok(ostree(`--repo=${src}`, 'rev-parse', 'os/b'));
    await ok(ots(`--repo=${repo}`, 'pull-local', src, b));
    await mkdir(path.join(repo, 'refs', 'mirrors', 'org.example.Other', 'os'), { recursive: true });
    await writeFile(path.join(repo, 'refs', 'mirrors', 'org.example.Other', 'os', 'b'), `${b}\n`);
    await ok(tool(`--repo=${repo}`, 'summary', '-u'), `${name} summary -u`);
    views.push((await ok(ostree(`--repo=${repo}`, 'summary', '--view', '--raw'))).replace(/'ostree\.summary\.last-modified': <uint64 \d+>/, 'LAST-MODIFIED'));
    // The same pairs; ostree 2022.7 prints them in no defined order (README, Differences from ostree), ostree-ts sorted.
    const sorted = (text: string): string => text.split('\n').sort().join('\n');
    const ourRefs = await ok(ots(`--repo=${repo}`, 'refs', '--collections'));
    assert.equal(ourRefs, sorted(ourRefs));
    assert.equal(ourRefs, sorted(await ok(ostree(`--repo=${repo}`, 'refs', '--collections'))));
  }
  assert.equal(views[0], views[1]);
  assert.match(views[0], /'ostree\.summary\.collection-map': <\{'org\.example\.Other': \[\('os\/b', .*'org\.example\.Src': \[\('os\/a'/);
});

test('find-remotes --finders=config: a configured remote with the collection ID, found and pulled from as ostree finds it', async (t) => {
  const w = await world(t);
  if (!w) return;
  await ok(ots(`--repo=${w.src}`, 'summary', '-u'));
  const h = path.join(w.dir, 'config-host');
  await ok(ots(`--repo=${h}`, 'init', '--mode=bare-user'));
  await ok(ots(`--repo=${h}`, 'remote', 'add', `--collection-id=${w.collection}`, 'local', `file://${w.src}`));
  await ok(ots(`--repo=${h}`, 'remote', 'gpg-import', '-k', w.key.publicFile, 'local'));
  const args = [`--repo=${h}`, 'find-remotes', '--finders=config', w.collection, 'os/stable', w.collection, 'os/absent'];
  const ours = await ok(ots(...args));
  // ostree prints a result's refs in its hash table's order, ostree-ts in the order asked (README, Differences from ostree).
  const refLinesSorted = (text: string): string => text.replace(/(?:^ {4}- .*\n)+/m, (block) => `${block.trimEnd().split('\n').sort().join('\n')}\n`);
  assert.equal(refLinesSorted(ours), refLinesSorted(await ok(ostree(...args))));
  assert.match(ours, new RegExp(`- \\(${w.collection}, os/stable\\) = ${w.commit}\\n {4}- \\(${w.collection}, os/absent\\) = \\(not found\\)\\n`));
  assert.match(ours, new RegExp(`^Result 0: file://${w.src}\\n - Finder: OstreeRepoFinderConfig\\n - Keyring: local.trustedkeys.gpg\\n - Priority: 100\\n`));
  assert.match(ours, /1\/2 refs were found\.\nRefs not found in any remote:\n - \(org\.example\.UsbTest[0-9a-f]+, os\/absent\)$/);
  await ok(ots(`--repo=${h}`, 'find-remotes', '--finders=config', '--pull', w.collection, 'os/stable'));
  assert.equal(await ok(ostree(`--repo=${h}`, 'rev-parse', 'local:os/stable')), w.commit);
});
