/**
 * Acceptance 1: sysroot parity with the real `ostree admin` (2022.7, the
 * oracle). The same commits are deployed with the same arguments into
 * sysroot A by ostree-ts and into sysroot B by ostree; then each tool reads
 * the other's sysroot, and the boot configuration — BLS entries, kernels
 * under boot/ostree, the ostree/boot.B.S link farm, the boot/loader
 * switch — must be the same file for file.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, ots, requireOstree, tempDir, type RunResult } from '../helpers/env.js';
import {
  atomic, bootState, deployDir, kargsWithoutOstree, makeOsTree, parseAdminStatus, parseBls, statusFacts, type OsTreeOptions,
} from '../helpers/sysroot.js';

const OS = 'testos';
const REF = 'testos/stable';

interface Pair {
  dir: string;
  /** Made and deployed by ostree-ts. */
  A: string;
  /** Made and deployed by the real ostree. */
  B: string;
}

/** Run, insist on success, and return stdout untrimmed (status lines start with spaces). */
async function stdout(p: Promise<RunResult>, what: string): Promise<string> {
  const r = await p;
  assert.equal(r.code, 0, `${what} failed:\n${r.stderr}`);
  return r.stdout;
}

/** Two fresh sysroots with the stateroot testos: A by our init-fs/os-init, B by ostree's. */
async function pair(t: TestContext): Promise<Pair> {
  const dir = await tempDir(t, 'ots-sysroot-');
  const A = path.join(dir, 'A');
  const B = path.join(dir, 'B');
  await ok(ots('admin', 'init-fs', A), 'ots admin init-fs');
  await ok(ots('admin', `--sysroot=${A}`, 'os-init', OS), 'ots admin os-init');
  await mkdir(B);
  await ok(ostree('admin', 'init-fs', B), 'ostree admin init-fs');
  await ok(ostree('admin', `--sysroot=${B}`, 'os-init', OS), 'ostree admin os-init');
  return { dir, A, B };
}

/** Commit a tree with the real ostree into both system repositories: the same checksum on both sides. */
async function commitBoth(p: Pair, name: string, version: string, timestamp: string, o: OsTreeOptions = {}): Promise<string> {
  const tree = await makeOsTree(path.join(p.dir, `tree-${name}`), o);
  const sums: string[] = [];
  for (const s of [p.A, p.B]) {
    sums.push(await ok(ostree('commit', `--repo=${path.join(s, 'ostree', 'repo')}`, '-b', REF, `--add-metadata-string=version=${version}`,
      `--timestamp=${timestamp}`, '-s', `TestOS ${version}`, `--tree=dir=${tree}`), 'ostree commit'));
  }
  assert.equal(sums[0], sums[1], 'the same tree and metadata give the same commit in both repositories');
  assert.match(sums[0], /^[0-9a-f]{64}$/);
  return sums[0];
}

/** The same `admin deploy` on both sides: ours on A, ostree's on B. */
async function deployBoth(p: Pair, ...args: string[]): Promise<void> {
  // Independent sysroots: both at once.
  await Promise.all([
    ok(ots('admin', `--sysroot=${p.A}`, 'deploy', `--os=${OS}`, ...args), `ots admin deploy ${args.join(' ')}`),
    ok(ostree('admin', `--sysroot=${p.B}`, 'deploy', `--os=${OS}`, ...args), `ostree admin deploy ${args.join(' ')}`),
  ]);
}

/** A and B hold the same boot configuration, entry field for field and link for link. */
async function sameBoot(p: Pair, label: string): Promise<void> {
  const a = await bootState(p.A);
  const b = await bootState(p.B);
  assert.equal(a.loader, b.loader, `${label}: boot/loader target`);
  assert.deepEqual(Object.keys(a.entries), Object.keys(b.entries), `${label}: entry file names`);
  for (const name of Object.keys(b.entries)) {
    assert.deepEqual(parseBls(a.entries[name]), parseBls(b.entries[name]), `${label}: ${name}, field for field`);
    assert.equal(a.entries[name], b.entries[name], `${label}: ${name}, byte for byte`);
  }
  assert.deepEqual(a.bootFiles, b.bootFiles, `${label}: boot/ostree (kernel directories and files)`);
  assert.deepEqual(a.links, b.links, `${label}: ostree/boot.B and boot.B.S link farm`);
}

/** Every deployment's origin file is byte-identical in A and B. */
async function sameOrigins(p: Pair, label: string): Promise<void> {
  const a = await deployDir(p.A, OS);
  assert.deepEqual(a, await deployDir(p.B, OS), `${label}: deployment directories`);
  for (const n of a.filter((x) => x.endsWith('.origin'))) {
    const where = (s: string): string => path.join(s, 'ostree', 'deploy', OS, 'deploy', n);
    assert.equal(await readFile(where(p.A), 'utf8'), await readFile(where(p.B), 'utf8'), `${label}: ${n}`);
  }
}

/**
 * Both tools read both sysroots alike: `ostree admin status` of A equals that of B and
 * our `admin status` of either; `atomic status --json` names the same deployments,
 * origins, versions, and the kernel arguments of each entry's options line.
 */
async function sameStatus(p: Pair, label: string): Promise<ReturnType<typeof statusFacts>> {
  // Reading only: every reader at once.
  const [theirsA, theirsB, oursA, oursB, jsonA, jsonB] = await Promise.all([
    stdout(ostree('admin', `--sysroot=${p.A}`, 'status'), 'ostree admin status A'),
    stdout(ostree('admin', `--sysroot=${p.B}`, 'status'), 'ostree admin status B'),
    stdout(ots('admin', `--sysroot=${p.A}`, 'status'), 'ots admin status A'),
    stdout(ots('admin', `--sysroot=${p.B}`, 'status'), 'ots admin status B'),
    stdout(atomic(`--sysroot=${p.A}`, 'status', '--json'), 'atomic status A'),
    stdout(atomic(`--sysroot=${p.B}`, 'status', '--json'), 'atomic status B'),
  ]);
  const parsed = parseAdminStatus(theirsB);
  assert.deepEqual(parseAdminStatus(theirsA), parsed, `${label}: ostree reads A as it reads B`);
  assert.equal(theirsA, theirsB, `${label}: ostree admin status text of A and B`);
  for (const [name, ours] of [['A', oursA], ['B', oursB]]) {
    assert.deepEqual(parseAdminStatus(ours), parsed, `${label}: our admin status of ${name}`);
    assert.equal(ours, theirsB, `${label}: our admin status text of ${name}`);
  }
  const entries = (await bootState(p.B)).entries;
  const n = parsed.length;
  const facts = statusFacts(jsonA);
  assert.deepEqual(facts.map((f) => f.id), parsed.map((d) => d.id), `${label}: atomic status order and ids`);
  assert.deepEqual(facts.map((f) => f.origin), parsed.map((d) => d.origin), `${label}: atomic status origins`);
  assert.deepEqual(facts.map((f) => f.version), parsed.map((d) => d.version), `${label}: atomic status versions`);
  assert.deepEqual(facts.map((f) => f.pinned), parsed.map((d) => d.pinned), `${label}: atomic status pins`);
  assert.deepEqual(facts.map((f) => f.default), parsed.map((_, i) => i === 0), `${label}: the default is index 0`);
  // Each deployment's kernel arguments are its entry's options without ostree= (entry ostree-(n-i)-OS.conf).
  const opts = parsed.map((_, i) => new Map(parseBls(entries[`ostree-${n - i}-${OS}.conf`] ?? '')).get('options') ?? '<no entry>');
  assert.deepEqual(facts.map((f) => f.kernelArguments), opts.map(kargsWithoutOstree), `${label}: atomic status kernel arguments`);
  // The same document for the sysroot ostree wrote.
  const factsB = statusFacts(jsonB);
  assert.deepEqual(factsB, facts, `${label}: atomic status of B equals that of A`);
  return facts;
}

async function same(p: Pair, label: string): Promise<ReturnType<typeof statusFacts>> {
  await sameBoot(p, label);
  await sameOrigins(p, label);
  return sameStatus(p, label);
}

// Each test has its own sysroots; two at a time keep the file short.
describe('sysroot parity with ostree admin', { concurrency: 2 }, () => {
  test('admin deploy: ostree reads our deployments and we read its; entries, kernels and links are ostree\'s own', async (t) => {
    if (!(await requireOstree(t))) return;
    const p = await pair(t);
    const c1 = await commitBoth(p, 'v1', '2.0', '2023-01-01T00:00:00Z');

    await deployBoth(p, '--karg=root=/dev/vda1', '--karg=console=ttyS0', REF);
    let f = await same(p, 'first deploy');
    assert.equal((await bootState(p.A)).loader, 'loader.1');
    assert.deepEqual(f.map((d) => d.id), [`${c1}.0`]);
    assert.equal(f[0].kernelArguments, 'root=/dev/vda1 console=ttyS0');
    assert.equal(f[0].version, '2.0');
    assert.equal(f[0].origin, REF);
    const entry = new Map(parseBls((await bootState(p.A)).entries[`ostree-1-${OS}.conf`]));
    assert.equal(entry.get('title'), 'TestOS 1 2.0 (ostree:0)');
    assert.equal(entry.get('linux'), `/ostree/${OS}-${f[0].bootChecksum}/vmlinuz-5.10.0-test`);
    assert.equal(entry.get('initrd'), `/ostree/${OS}-${f[0].bootChecksum}/initramfs-5.10.0-test.img`);

    // Another deployment of the same commit (serial 1), with root= replaced.
    await deployBoth(p, '--karg=root=/dev/vda2', REF);
    f = await same(p, 'second deploy, root= replaced');
    assert.equal((await bootState(p.A)).loader, 'loader.0');
    assert.deepEqual(f.map((d) => d.id), [`${c1}.1`, `${c1}.0`]);
    assert.deepEqual(f.map((d) => d.kernelArguments), ['root=/dev/vda2 console=ttyS0', 'root=/dev/vda1 console=ttyS0']);

    // Not as default: after the merge deployment; the old rollback goes.
    await deployBoth(p, '--not-as-default', REF);
    f = await same(p, 'third deploy, --not-as-default');
    assert.equal((await bootState(p.A)).loader, 'loader.1');
    assert.deepEqual(f.map((d) => d.id), [`${c1}.1`, `${c1}.2`]);

    // --retain keeps everything; --origin-file gives the new deployment's origin as written.
    const originFile = path.join(p.dir, 'custom.origin');
    await writeFile(originFile, `[origin]\nrefspec=${REF}\ncustom-key=kept\n\n[extra]\nnote=from the test\n`);
    await deployBoth(p, '--retain', `--origin-file=${originFile}`, REF);
    f = await same(p, 'fourth deploy, --retain --origin-file');
    assert.equal((await bootState(p.A)).loader, 'loader.0');
    assert.deepEqual(f.map((d) => d.id), [`${c1}.3`, `${c1}.1`, `${c1}.2`]);
    const origin = await readFile(path.join(p.A, 'ostree', 'deploy', OS, 'deploy', `${c1}.3.origin`), 'utf8');
    assert.match(origin, /custom-key=kept/);
    assert.match(origin, /\[extra\]\nnote=from the test/);

    // Pinning (ours on A, ostree's on B) changes origins only.
    const before = await bootState(p.A);
    await ok(ots('admin', `--sysroot=${p.A}`, 'pin', '2'));
    await ok(ostree('admin', `--sysroot=${p.B}`, 'pin', '2'));
    f = await same(p, 'pin 2');
    assert.deepEqual(f.map((d) => d.pinned), [false, false, true]);
    assert.deepEqual(await bootState(p.A), before, 'pinning leaves the boot configuration alone');

    // A new commit with another kernel is deployed beside a pinned one: two boot directories.
    const c2 = await commitBoth(p, 'v2', '3.0', '2023-01-02T00:00:00Z', { kernel: 'kernel image 5.10.0-test, rebuilt\n', pretty: 'TestOS 2' });
    await deployBoth(p, REF);
    f = await same(p, 'new kernel');
    assert.deepEqual(f.map((d) => d.id), [`${c2}.0`, `${c1}.3`, `${c1}.2`]);
    assert.equal(new Set(f.map((d) => d.bootChecksum)).size, 2);
    assert.equal(Object.keys((await bootState(p.A)).bootFiles).filter((k) => k.endsWith('/') && k.split('/').length === 2).length, 2, 'one boot/ostree directory per kernel');
    assert.equal(f[0].kernelArguments, 'root=/dev/vda2 console=ttyS0', 'kernel arguments inherited from the merge deployment');
  });

  test('ostree undeploys from our sysroot and we undeploy and clean up ostree\'s: both stay sound and alike', async (t) => {
    if (!(await requireOstree(t))) return;
    const p = await pair(t);
    const c1 = await commitBoth(p, 'v1', '1.0', '2023-01-01T00:00:00Z');
    await deployBoth(p, '--karg=root=/dev/vda1', REF);
    const c2 = await commitBoth(p, 'v2', '2.0', '2023-01-02T00:00:00Z', { hello: 'echo hello 2', etc: { 'b.conf': 'default-b\n' } });
    await deployBoth(p, REF);
    let f = await same(p, 'two commits deployed');
    assert.deepEqual(f.map((d) => d.id), [`${c2}.0`, `${c1}.0`]);

    // The real ostree removes index 1 from our sysroot A; ours removes it from ostree's sysroot B.
    await ok(ostree('admin', `--sysroot=${p.A}`, 'undeploy', '1'), 'ostree admin undeploy on our sysroot');
    const r = await ots('admin', `--sysroot=${p.B}`, 'undeploy', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Deleted deployment ${c1}.0\n`);
    f = await same(p, 'after undeploy 1');
    assert.deepEqual(f.map((d) => d.id), [`${c2}.0`]);
    assert.deepEqual(await deployDir(p.A, OS), [`${c2}.0`, `${c2}.0.origin`]);
    // Both pruned the undeployed commit (no ref holds it any more), and rewrote the deployment refs alike.
    for (const s of [p.A, p.B]) {
      const repo = `--repo=${path.join(s, 'ostree', 'repo')}`;
      assert.notEqual((await ostree('show', repo, c1)).code, 0, `${path.basename(s)}: ${c1} pruned`);
      assert.equal(await ok(ostree('rev-parse', repo, REF)), c2);
    }
    const refs = async (s: string): Promise<string> => ok(ostree('refs', `--repo=${path.join(s, 'ostree', 'repo')}`));
    assert.equal(await refs(p.A), await refs(p.B), 'the same refs, ostree/B/S/i included');

    // Our cleanup on ostree's sysroot: nothing left to remove, and ostree's own tools agree.
    await ok(ots('admin', `--sysroot=${p.B}`, 'cleanup'), 'ots admin cleanup');
    f = await same(p, 'after our cleanup of B');
    const fsck = await ostree('fsck', `--repo=${path.join(p.B, 'ostree', 'repo')}`);
    assert.equal(fsck.code, 0, fsck.stderr);
    assert.match(fsck.stdout, /object fsck of 1 commits completed successfully - no errors found/);
    const fsckA = await ostree('fsck', `--repo=${path.join(p.A, 'ostree', 'repo')}`);
    assert.equal(fsckA.code, 0, fsckA.stderr);
    // ostree's cleanup of B afterwards finds nothing to do either.
    const stateBefore = await bootState(p.B);
    await ok(ostree('admin', `--sysroot=${p.B}`, 'cleanup'));
    assert.deepEqual(await bootState(p.B), stateBefore);
    assert.deepEqual(await deployDir(p.B, OS), [`${c2}.0`, `${c2}.0.origin`]);
  });

  test('a tree without an initramfs: options carry init= to ostree-prepare-root, as ostree writes them', async (t) => {
    if (!(await requireOstree(t))) return;
    const p = await pair(t);
    const c1 = await commitBoth(p, 'noinitrd', '1.0', '2023-01-01T00:00:00Z', { initramfs: false });
    await deployBoth(p, '--karg=root=/dev/vda1', REF);
    await same(p, 'first deploy without initramfs');
    await deployBoth(p, '--karg=root=/dev/vda3', REF);
    const f = await same(p, 'second deploy without initramfs');
    assert.deepEqual(f.map((d) => d.id), [`${c1}.1`, `${c1}.0`]);
    const st = await bootState(p.A);
    assert.equal(st.loader, 'loader.0');
    for (const [i, name] of [[0, `ostree-2-${OS}.conf`], [1, `ostree-1-${OS}.conf`]] as const) {
      const e = new Map(parseBls(st.entries[name]));
      assert.equal(e.has('initrd'), false, `${name}: no initrd line`);
      const prefix = `/ostree/boot.0/${OS}/${f[i].bootChecksum}/${i}`;
      assert.match(e.get('options') ?? '', new RegExp(`(^| )init=${prefix}/usr/lib/ostree/ostree-prepare-root( |$)`), `${name}: init=`);
      assert.match(e.get('options') ?? '', new RegExp(`(^| )ostree=${prefix}( |$)`), `${name}: ostree=`);
    }
    assert.deepEqual(Object.keys(st.bootFiles).filter((k) => !k.endsWith('/')).map((k) => path.basename(k)), ['vmlinuz-5.10.0-test']);
  });

  for (const sameVersion of [false, true]) {
    test(`same kernel in a new commit with ${sameVersion ? 'the same version: only the link farm swaps' : 'a new version: the boot version flips'}`, async (t) => {
      if (!(await requireOstree(t))) return;
      const p = await pair(t);
      const c1 = await commitBoth(p, 'v1', '1.0', '2023-01-01T00:00:00Z');
      await deployBoth(p, '--karg=root=/dev/vda1', REF);
      await deployBoth(p, REF);
      await same(p, 'two deployments of v1');
      const before = await bootState(p.A);
      assert.equal(before.loader, 'loader.0');
      assert.equal(before.links['boot.0'], 'boot.0.1');
      // Same kernel and initramfs, other content.
      const c2 = await commitBoth(p, 'v2', sameVersion ? '1.0' : '2.0', '2023-01-02T00:00:00Z', { hello: 'echo hello again' });
      assert.notEqual(c2, c1);
      await deployBoth(p, REF);
      const f = await same(p, 'v2 deployed');
      assert.deepEqual(f.map((d) => d.id), [`${c2}.0`, `${c1}.1`]);
      assert.equal(f[0].bootChecksum, f[1].bootChecksum);
      const after = await bootState(p.A);
      if (sameVersion) {
        assert.equal(after.loader, 'loader.0', 'boot/loader unchanged');
        assert.deepEqual(after.entries, before.entries, 'the entries are untouched');
        assert.equal(after.links['boot.0'], 'boot.0.0', 'ostree/boot.0 now names the other link farm');
        assert.equal(after.links[`boot.0.0/${OS}/${f[0].bootChecksum}/0`], `../../../deploy/${OS}/deploy/${c2}.0`);
        assert.equal(after.links[`boot.0.0/${OS}/${f[0].bootChecksum}/1`], `../../../deploy/${OS}/deploy/${c1}.1`);
        assert.equal(after.links['boot.0.1/testos'], undefined, 'the old farm is gone');
      } else {
        assert.equal(after.loader, 'loader.1', 'boot/loader switched');
        assert.equal(after.links['boot.1'], 'boot.1.1');
        assert.match(after.entries[`ostree-2-${OS}.conf`], /^title TestOS 1 2\.0 \(ostree:0\)$/m);
        assert.match(after.entries[`ostree-1-${OS}.conf`], /^title TestOS 1 1\.0 \(ostree:1\)$/m);
        assert.equal(Object.keys(after.links).some((k) => k.startsWith('boot.0')), false, 'the old boot version is cleaned up');
      }
    });
  }

  test('kernel arguments added to the inherited ones: ostree= stays where ostree puts it', async (t) => {
    if (!(await requireOstree(t))) return;
    const p = await pair(t);
    await commitBoth(p, 'v1', '1.0', '2023-01-01T00:00:00Z');
    await deployBoth(p, '--karg=root=/dev/vda1', REF);
    // ostree starts from the merge deployment's options (ostree= included) and appends after them.
    await deployBoth(p, '--karg-append=quiet', REF);
    await same(p, 'after --karg-append');
    // Inherited unchanged, and every existing entry rewritten for the new boot version.
    await deployBoth(p, REF);
    await same(p, 'after a plain deploy');
    const e = new Map(parseBls((await bootState(p.B)).entries[`ostree-2-${OS}.conf`]));
    assert.match(e.get('options') ?? '', /^root=\/dev\/vda1 ostree=\S+ quiet$/, 'the oracle keeps ostree= in place');
  });
});
