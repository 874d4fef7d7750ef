/**
 * The operations the torture suite injects faults into: one row each.
 *
 * A row names the operation and builds, once, the fixture every fault
 * starts from (a directory copied afresh per fault), from the shared world:
 * two versions of a small OS tree, an upstream archive repository with both
 * (and a static delta between them) served over HTTP on loopback, and a
 * sysroot with the first version deployed. The fixture says which command
 * to run, which repositories and sysroot to check, and what the operation
 * has done (its state), so the harness can tell "before or after" from
 * "something in between".
 *
 * To add a writer (boot assessment, compose, …): append one row to
 * OPERATIONS whose setup prepares its fixture under `dir` (copy a template
 * of the world with `cp -a`, set `core.tmp-expiry-secs=0` on the
 * repositories it writes) and returns the command and its state.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CLI, ok, ostree, ots, run } from '../helpers/env.js';
import { ATOMIC, OS, checkBootInvariants, makeHost, makeOsTree, publish, type Host } from '../helpers/host.js';
import type { Fixture, TortureOperation } from './harness.js';

/** What every row builds on: built once per suite run. */
export interface World {
  dir: string;
  host: Host;
  /** The two trees, as directories. */
  tree1: string;
  tree2: string;
  /** v2 on upstream os/stable (v1 on os/v1), with a static delta v1 → v2 in the summary. */
  v2: string;
}

/** The world: about 30 files per version, v2 with another kernel (so /boot changes) and changed binaries. */
export async function makeWorld(t: { after: (fn: () => void) => void }, dir: string): Promise<World> {
  const host = await makeHost(t, dir, { v1: { version: '1', kernel: 'k1' } });
  const tree1 = path.join(dir, 'tree-v1');
  const tree2 = await makeOsTree(path.join(dir, 'tree-v2'), { version: '2', kernel: 'k2' });
  const v2 = await publish(host.upstream, tree2, { timestamp: 1_700_086_400, version: '2' });
  await ok(ots(`--repo=${host.upstream}`, 'static-delta', 'generate', '--to=os/stable'), 'static-delta generate');
  await ok(ots(`--repo=${host.upstream}`, 'summary', '-u'), 'summary -u');
  return { dir, host, tree1, tree2, v2 };
}

const node = process.execPath;

/** The commit a ref names, or '-' (read from the file: the state must not depend on a tool). */
async function refState(repo: string, ref: string): Promise<string> {
  const text = await readFile(path.join(repo, 'refs', ref), 'utf8').catch(() => '-');
  return `${ref}=${text.trim()}`;
}

/** Stop a repository's staging directories from outliving the next transaction (what the tmp/ check relies on). */
async function expireTmpAtOnce(repo: string): Promise<void> {
  await ok(ots(`--repo=${repo}`, 'config', 'set', 'core.tmp-expiry-secs', '0'), 'config set core.tmp-expiry-secs');
}

/** A copy of the world's sysroot (v1 deployed), for a sysroot row. */
async function sysrootCopy(w: World, dir: string): Promise<string> {
  const s = path.join(dir, 'sysroot');
  await ok(run('cp', ['-a', w.host.sysroot, s]), 'copy the sysroot');
  await expireTmpAtOnce(path.join(s, 'ostree', 'repo'));
  return s;
}

/** A sysroot's boot order as checksums (serials vary from run to run). */
async function bootOrder(root: string): Promise<string> {
  return (await checkBootInvariants(path.join(root, 'sysroot'))).map((d) => d.csum.slice(0, 12)).join(' > ');
}

/** Boot order, the default's entry name (its counter) and its assessment, as `atomic status --json` gives it. */
async function assessed(root: string): Promise<string> {
  const order = await checkBootInvariants(path.join(root, 'sysroot'));
  const r = await run(node, [ATOMIC, `--sysroot=${path.join(root, 'sysroot')}`, 'status', '--json']);
  const doc = JSON.parse(r.stdout) as { deployments: Array<{ assessment?: { state?: string } }>; quarantine?: Array<{ commit: string }> };
  const states = doc.deployments.map((d) => d.assessment?.state ?? '?').join(',');
  return `${order.map((d) => d.csum.slice(0, 12)).join(' > ')} [${order[0].entry}] ${states} quarantine=${(doc.quarantine ?? []).length}`;
}

function sysrootFixture(template: string, command: (s: string) => string[], state: (root: string) => Promise<string>, extra: Partial<Fixture> = {}): Fixture {
  return {
    template,
    command: (root) => command(path.join(root, 'sysroot')),
    repos: (root) => [path.join(root, 'sysroot', 'ostree', 'repo')],
    sysroot: (root) => path.join(root, 'sysroot'),
    state,
    afterFault: 'atomic',
    afterRerun: 'final',
    ...extra,
  };
}

function commitRow(mode: 'archive' | 'bare', w: World): TortureOperation {
  return {
    name: `commit (${mode})`,
    async setup(dir) {
      const repo = path.join(dir, 'repo');
      await ok(ots('init', `--repo=${repo}`, `--mode=${mode}`), 'init');
      await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1700000000', '-s', 'v1', `--tree=dir=${w.tree1}`), 'commit v1');
      await expireTmpAtOnce(repo);
      return {
        template: dir,
        command: (root) => [node, CLI, `--repo=${path.join(root, 'repo')}`, 'commit', '-b', 'main', '--timestamp=@1700086400', '-s', 'v2', `--tree=dir=${w.tree2}`],
        repos: (root) => [path.join(root, 'repo')],
        state: (root) => treeState(path.join(root, 'repo'), 'heads/main'),
        afterFault: 'atomic',
        afterRerun: 'final',
      };
    },
  };
}

/**
 * The tree a ref's commit holds (a commit run again makes another commit,
 * the first one its parent, of the same tree): read by the real ostree.
 */
async function treeState(repo: string, ref: string): Promise<string> {
  const r = await ostree('ls', `--repo=${repo}`, '-R', '-C', ref.replace(/^heads\//, ''));
  if (r.code !== 0) return `${ref}: none`;
  return `${ref}: tree ${createHash('sha256').update(r.stdout).digest('hex').slice(0, 16)}`;
}

/** A bare repository holding v1 (origin:os/v1) with the world's upstream as its remote. */
async function pullingRepo(w: World, dir: string): Promise<string> {
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=bare'), 'init');
  await ok(ots(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', 'origin', w.host.url), 'remote add');
  await ok(ots(`--repo=${repo}`, 'pull', 'origin', 'os/v1'), 'pull v1');
  await expireTmpAtOnce(repo);
  return repo;
}

function pullRow(how: 'objects' | 'delta', w: World): TortureOperation {
  return {
    name: `pull over HTTP (${how})`,
    async setup(dir) {
      await pullingRepo(w, dir);
      const flag = how === 'delta' ? '--require-static-deltas' : '--disable-static-deltas';
      return {
        template: dir,
        command: (root) => [node, CLI, `--repo=${path.join(root, 'repo')}`, 'pull', flag, 'origin', 'os/stable'],
        repos: (root) => [path.join(root, 'repo')],
        state: (root) => refState(path.join(root, 'repo'), 'remotes/origin/os/stable'),
        afterFault: 'atomic',
        afterRerun: 'final',
      };
    },
  };
}

/** The operations, in the order the suite runs them. */
export function operations(w: World): TortureOperation[] {
  return [
    commitRow('archive', w),
    commitRow('bare', w),
    pullRow('objects', w),
    pullRow('delta', w),
    {
      name: 'pull-local',
      async setup(dir) {
        const repo = path.join(dir, 'repo');
        await ok(ots('init', `--repo=${repo}`, '--mode=bare'), 'init');
        await ok(ots(`--repo=${repo}`, 'pull-local', w.host.upstream, 'os/v1'), 'pull-local v1');
        await expireTmpAtOnce(repo);
        return {
          template: dir,
          command: (root) => [node, CLI, `--repo=${path.join(root, 'repo')}`, 'pull-local', w.host.upstream, 'os/stable'],
          repos: (root) => [path.join(root, 'repo')],
          state: (root) => refState(path.join(root, 'repo'), 'heads/os/stable'),
          afterFault: 'atomic',
          afterRerun: 'final',
        };
      },
    },
    {
      name: 'prune',
      async setup(dir) {
        // main: v1 ← v2 (history prune drops v1's own objects); "extra": a deleted branch whose objects nothing reaches.
        const repo = path.join(dir, 'repo');
        await ok(ots('init', `--repo=${repo}`, '--mode=archive'), 'init');
        await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1700000000', `--tree=dir=${w.tree1}`), 'commit v1');
        await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1700086400', `--tree=dir=${w.tree2}`), 'commit v2');
        await ok(ots(`--repo=${repo}`, 'commit', '-b', 'extra', '--timestamp=@1700100000', `--tree=dir=${path.join(w.tree1, 'usr', 'bin')}`), 'commit extra');
        await ok(ots(`--repo=${repo}`, 'refs', '--delete', 'extra'), 'delete extra');
        await expireTmpAtOnce(repo);
        const objects = async (root: string): Promise<number> => {
          let n = 0;
          for (const d of await readdir(path.join(root, 'repo', 'objects'))) n += (await readdir(path.join(root, 'repo', 'objects', d))).length;
          return n;
        };
        return {
          template: dir,
          command: (root) => [node, CLI, `--repo=${path.join(root, 'repo')}`, 'prune', '--refs-only', '--depth=0'],
          repos: (root) => [path.join(root, 'repo')],
          state: async (root) => `${await refState(path.join(root, 'repo'), 'heads/main')}, ${await objects(root)} objects`,
          afterFault: 'any',
          afterRerun: 'final',
        };
      },
    },
    {
      name: 'admin deploy',
      async setup(dir) {
        const s = await sysrootCopy(w, dir);
        await ok(ots(`--repo=${path.join(s, 'ostree', 'repo')}`, 'pull', 'origin', 'os/stable'), 'pull v2');
        return sysrootFixture(dir, (sr) => [node, CLI, 'admin', `--sysroot=${sr}`, 'deploy', `--os=${OS}`, 'origin:os/stable'],
          async (root) => (await bootOrder(root)).split(' > ')[0]);
      },
    },
    {
      name: 'atomic upgrade',
      async setup(dir) {
        await sysrootCopy(w, dir);
        return sysrootFixture(dir, (sr) => [node, ATOMIC, `--sysroot=${sr}`, 'upgrade'], bootOrder);
      },
    },
    {
      name: 'atomic rollback',
      async setup(dir) {
        const s = await sysrootCopy(w, dir);
        await ok(run(node, [ATOMIC, `--sysroot=${s}`, 'upgrade']), 'upgrade to v2');
        return sysrootFixture(dir, (sr) => [node, ATOMIC, `--sysroot=${sr}`, 'rollback'], bootOrder, { afterRerun: 'toggle' });
      },
    },
    {
      name: 'atomic kargs',
      async setup(dir) {
        const s = await sysrootCopy(w, dir);
        await ok(run(node, [ATOMIC, `--sysroot=${s}`, 'upgrade']), 'upgrade to v2');
        const kargs = async (root: string): Promise<string> => {
          const entries = path.join(root, 'sysroot', 'boot', 'loader', 'entries');
          const boot = await checkBootInvariants(path.join(root, 'sysroot'));
          const text = await readFile(path.join(entries, boot[0].entry), 'utf8');
          const options = /^options (.*)$/m.exec(text)?.[1] ?? '';
          return `${boot.map((d) => d.csum.slice(0, 12)).join(' > ')}: ${options.split(' ').filter((a) => !a.startsWith('ostree=')).join(' ')}`;
        };
        return sysrootFixture(dir, (sr) => [node, ATOMIC, `--sysroot=${sr}`, 'kargs', '--replace=torture=1'], kargs);
      },
    },
    {
      // Boot assessment: the bootloader's counter rename, then the health check blessing v2 (entry renamed without counter, record good).
      name: 'atomic simulate-boot (blessing)',
      async setup(dir) {
        const s = await sysrootCopy(w, dir);
        await ok(run(node, [ATOMIC, `--sysroot=${s}`, 'upgrade']), 'upgrade to v2');
        return sysrootFixture(dir, (sr) => [node, ATOMIC, `--sysroot=${sr}`, 'simulate-boot'], assessed, { afterFault: 'any' });
      },
    },
    {
      // Boot assessment: v2's tries spent, the bootloader falls back to v1, the reconcile marks v2 failed, makes v1 the default and quarantines v2.
      name: 'atomic boot-reconcile (fallback)',
      async setup(dir) {
        const s = await sysrootCopy(w, dir);
        await ok(run(node, [ATOMIC, `--sysroot=${s}`, 'upgrade']), 'upgrade to v2');
        for (let i = 0; i < 3; i++) await ok(run(node, [ATOMIC, `--sysroot=${s}`, 'simulate-boot', '--fail-boot']), 'a boot of v2 that fails');
        return sysrootFixture(dir, (sr) => [node, ATOMIC, `--sysroot=${sr}`, 'simulate-boot'], assessed, { afterFault: 'any' });
      },
    },
  ];
}
