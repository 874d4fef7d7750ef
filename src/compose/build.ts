/**
 * `compose`: a recipe's plan carried out. The sources are laid into a
 * staged directory (on disk, never held in memory) beside the repository,
 * the files, removals, postprocess scripts, checks and conventions applied,
 * then the tree goes through the one commit path (`commitTree`), signed in
 * the same transaction, and the ref moves last. Any failure before that
 * leaves the repository and the ref as they were.
 */
import { createHash } from 'node:crypto';
import { Codes, OstreeTsError } from '../errors/index.js';
import type { VarDict, Variant } from '../format/gvariant.js';
import { findKernel } from '../format/kernel-layout.js';
import { exists, fsp, path, randomSuffix } from '../io/fs.js';
import { discardTree } from '../io/process.js';
import { runCommand } from '../io/run-command.js';
import { checkout } from '../repo/checkout.js';
import { commitTree } from '../repo/commit.js';
import { diffRevs } from '../repo/inspect.js';
import { readRef } from '../repo/refs.js';
import type { Repo } from '../repo/repo.js';
import { signDetached, type Signer } from '../sign/detached.js';
import { loadEd25519KeyFile, loadGpgSigners } from '../sign/keys.js';
import { applyConventions, type ComposeNote, walkTree } from './conventions.js';
import type { BuildPlan } from './plan.js';
import type { BaseSource, LayerSource, Recipe, SourcePos } from './recipe.js';
import { copyTree, ensureDir, extractTar, linkTree, globToRegExp, lastLines, removePath, writeGitTree, byName, type Runner } from './stage.js';
import { DirTree, LayeredTree, parentOf, type StagedTree } from './staged-tree.js';

export interface ComposeProgress {
  phase: 'base' | 'layer' | 'mmdebstrap' | 'postprocess' | 'conventions' | 'commit';
  message: string;
}

export interface ComposeOptions {
  /** Where mmdebstrap outputs are kept, by a key of their inputs. */
  cacheDir?: string;
  /** Run as root: owners kept, postprocess in a chroot, mmdebstrap possible. */
  asRoot: boolean;
  /** The Debian mirror for a suite when the recipe gives none (the machine's apt sources). */
  aptMirror?: (suite: string) => Promise<string | null>;
  /** A key file replacing the recipe's `sign.key`. */
  signKey?: string;
  /** How programs run (default: io's runCommand). */
  run?: Runner;
  onNote?: (note: ComposeNote) => void;
  onProgress?: (event: ComposeProgress) => void;
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
  fsync?: boolean;
}

export interface ChangeSummary {
  added: number;
  removed: number;
  modified: number;
  /** The largest added or modified files (bytes in the new commit). */
  biggest: Array<{ path: string; change: 'added' | 'modified'; size: number }>;
}

export interface ComposeResult {
  ref: string;
  checksum: string;
  /** The commit the ref named before, if any. */
  previous: string | null;
  /** The inputs gave the commit the ref already named: nothing new was written. */
  unchanged: boolean;
  version?: string;
  timestamp: bigint;
  files: number;
  bytes: number;
  kernel: string | null;
  signed: boolean;
  /** Against `previous`; null for the ref's first commit. */
  changes: ChangeSummary | null;
  notes: ComposeNote[];
}

function stepError(step: string, at: SourcePos | undefined, what: string, fix: string, data: Record<string, unknown> = {}, cause?: unknown): OstreeTsError {
  const where = at ? ` (${at.file}:${at.line})` : '';
  return new OstreeTsError(Codes.COMPOSE, `Compose step ${step}${where} failed: ${what}${what.endsWith('\n') ? '' : '. '}${fix}`, { step, ...(at ? { file: at.file, line: at.line } : {}), ...data }, { cause });
}

function why(e: unknown): string {
  return (e as Error).message.replace(/\.$/, '');
}

/** The key an mmdebstrap output is cached under: every input that shapes it. */
export function debianCacheKey(b: Extract<BaseSource, { kind: 'debian' }>, mirror: string): string {
  const inputs = { suite: b.suite, variant: b.variant, include: [...b.include].sort(), components: b.components, architectures: b.architectures, mirror, format: 2 };
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 32);
}

async function loadSigners(recipe: Recipe, opts: ComposeOptions): Promise<Signer[]> {
  const key = opts.signKey ?? recipe.sign?.key;
  if (!key) return [];
  const type = recipe.sign?.type ?? 'ed25519';
  const warn = opts.onWarning ?? (() => {});
  try {
    if (type === 'ed25519') return [{ type: 'ed25519', keys: await loadEd25519KeyFile(key, warn) }];
    const keyId = recipe.sign?.keyId;
    if (!keyId) throw new OstreeTsError(Codes.KEY, `A gpg signature needs sign.key-id (the key's fingerprint or user ID) beside sign.key (${key}).`, { key });
    const st = await fsp.stat(key).catch(() => null);
    return loadGpgSigners([keyId], st?.isDirectory() ? { keyFiles: [], homedirs: [key] } : { keyFiles: [key], homedirs: [] }, warn);
  } catch (e) {
    throw stepError('sign', opts.signKey ? undefined : recipe.sign?.at, why(e), 'Fix sign.key (or --sign-key): the key is loaded before anything is built.', {}, e);
  }
}

/**
 * The Debian tree mmdebstrap makes, as a directory in the cache (made once
 * per set of inputs, in a temporary directory renamed into place), so a
 * compose commits it in place (or, under layers, lays it out by hard links)
 * instead of unpacking it every time.
 */
async function debianBase(b: Extract<BaseSource, { kind: 'debian' }>, opts: ComposeOptions, run: Runner): Promise<string> {
  const mirror = b.mirror ?? (await opts.aptMirror?.(b.suite)) ?? null;
  if (!mirror) {
    throw stepError('base', b.at, `no Debian mirror for ${b.suite}: the recipe gives none and this machine's apt sources list none`, 'Add base.debian.mirror, or a deb line to the apt sources.');
  }
  if (!opts.cacheDir) throw stepError('base', b.at, 'no cache directory for the mmdebstrap output', 'Give a cache directory (--cache-dir).');
  const key = debianCacheKey(b, mirror);
  const out = path.join(opts.cacheDir, `debian-${b.suite}-${key}`);
  if ((await fsp.lstat(out).catch(() => null))?.isDirectory()) {
    opts.onNote?.({ step: 'base', level: 'info', message: `Debian ${b.suite}: the cached mmdebstrap output ${path.basename(out)} (same inputs)` });
    return out;
  }
  if (!opts.asRoot) throw stepError('base', b.at, 'mmdebstrap builds a Debian tree as root only here', 'Run compose as root (or use a tarball base).');
  await ensureDir(opts.cacheDir);
  const tmp = `${out}.tmp-${randomSuffix()}`;
  const args = ['--mode=root', `--variant=${b.variant}`, `--components=${b.components.join(',')}`, '--format=directory'];
  if (b.include.length) args.push(`--include=${b.include.join(',')}`);
  if (b.architectures.length) args.push(`--architectures=${b.architectures.join(',')}`);
  args.push(b.suite, tmp, mirror);
  opts.onProgress?.({ phase: 'mmdebstrap', message: `mmdebstrap ${b.suite} (takes minutes; cached afterwards)` });
  const r = await run('mmdebstrap', args, {
    signal: opts.signal,
    onOutput: (chunk) => {
      const line = chunk.trim().split('\n').pop();
      if (line) opts.onProgress?.({ phase: 'mmdebstrap', message: line.slice(0, 100) });
    },
  });
  if (r.code !== 0) {
    await removePath(tmp);
    throw stepError('base', b.at, `mmdebstrap failed (${r.spawnError ?? `exit ${r.code ?? r.signal}`}):\n${lastLines(r.output, 15)}\n`, 'Check the suite, packages and mirror (mmdebstrap must be installed).');
  }
  await fsp.rename(tmp, out);
  return out;
}

async function laySource(repo: Repo, s: BaseSource | LayerSource, stage: string, opts: ComposeOptions, run: Runner, step: string, provenance: VarDict, inPlaceWrites: boolean): Promise<void> {
  try {
    if (s.kind === 'tarball') await extractTar(run, s.path, stage, opts.asRoot, opts.signal);
    else if (s.kind === 'directory') {
      const st = await fsp.stat(s.path).catch(() => null);
      if (!st?.isDirectory()) throw new OstreeTsError(Codes.NOT_FOUND, `no directory ${s.path}`, { path: s.path });
      await copyTree(s.path, stage);
    } else if (s.kind === 'ref') {
      const tmp = path.join(path.dirname(stage), `ref-${randomSuffix()}`);
      try {
        await checkout(repo, s.rev, tmp, { userMode: !opts.asRoot, forceCopy: true, signal: opts.signal });
        const entries = await fsp.readdir(tmp);
        for (const e of entries) await fsp.rename(path.join(tmp, e), path.join(stage, e));
      } finally {
        await removePath(tmp);
      }
    } else if (s.kind === 'git') {
      const g = await writeGitTree(s.repo, s.rev, s.subdir, stage);
      const source = g.source.startsWith('/') ? s.repoAsWritten : g.source;
      for (const k of ['ostree-ts.source.git', 'ostree-ts.source.git-commit']) {
        const at = provenance.findIndex(([key]) => key === k);
        if (at >= 0) provenance.splice(at, 1);
      }
      provenance.push(['ostree-ts.source.git', { type: 's', value: source }]);
      provenance.push(['ostree-ts.source.git-commit', { type: 's', value: g.commit }]);
      opts.onNote?.({ step, level: 'info', message: `git ${s.repoAsWritten} ${s.rev} is commit ${g.commit}` });
    } else {
      const tree = await debianBase(s, opts, run);
      opts.onProgress?.({ phase: 'base', message: `laying out ${path.basename(tree)}` });
      // Under layers: hard links when nothing can write into the files (postprocess scripts can), a copy otherwise.
      const linked = !inPlaceWrites && (await fsp.readdir(stage)).length === 0 && linkTree(tree, stage);
      if (!linked) {
        const r = await run('cp', ['-a', '--', `${tree}/.`, stage], { signal: opts.signal });
        if (r.code !== 0) throw new OstreeTsError(Codes.IO, `Cannot copy the cached Debian tree ${tree}: ${r.spawnError ?? lastLines(r.output, 5)}. Remove it from the cache to have it built again.`, { path: tree });
      }
    }
  } catch (e) {
    if (e instanceof OstreeTsError && e.code === Codes.COMPOSE) throw e;
    const fix = s.kind === 'git' ? 'Pin the layer to a revision that exists in that repository (a commit id, tag or branch).'
      : s.kind === 'ref' ? 'Name a ref or commit of the repository composed into.'
        : 'Fix the path (it is relative to the recipe that names it).';
    throw stepError(step, s.at, why(e), fix, {}, e);
  }
}

/**
 * Lay the base into the staged directory. A Debian base with no layers and
 * no postprocess scripts (nothing that needs the whole tree as a directory)
 * is not laid out at all: the cached mmdebstrap output becomes the lower
 * directory of a LayeredTree over the staged one.
 */
async function stageBase(repo: Repo, recipe: Recipe, stage: string, opts: ComposeOptions, run: Runner, provenance: VarDict): Promise<StagedTree> {
  const b = recipe.base;
  if (b.kind === 'debian' && recipe.layers.length === 0 && recipe.postprocess.length === 0) {
    const lower = await debianBase(b, opts, run).catch((e: unknown) => {
      if (e instanceof OstreeTsError && e.code === Codes.COMPOSE) throw e;
      throw stepError('base', b.at, why(e), 'Fix the path (it is relative to the recipe that names it).', {}, e);
    });
    opts.onNote?.({ step: 'base', level: 'info', message: `${path.basename(lower)} committed in place, with the changes staged over it` });
    return new LayeredTree(lower, stage);
  }
  await laySource(repo, b, stage, opts, run, 'base', provenance, recipe.postprocess.length > 0);
  return new DirTree(stage);
}

/** A step's failure that is not already a coded error, as a compose error naming the step. */
async function stepOf<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof OstreeTsError) throw e;
    throw stepError(step, undefined, why(e), 'Check the staged tree the sources make.', {}, e);
  }
}

async function writeFiles(recipe: Recipe, tree: StagedTree, opts: ComposeOptions): Promise<void> {
  for (const f of recipe.files) {
    tree.ensureDir(parentOf(f.path));
    tree.writeFile(f.path, f.content, f.mode);
    if (opts.asRoot) tree.chown(f.path, f.uid, f.gid);
    else if (f.uid !== 0 || f.gid !== 0) {
      opts.onNote?.({ step: 'file', level: 'warning', message: `/${f.path}: owner ${f.uid}:${f.gid} needs root; committed as 0:0` });
    }
  }
}

/** Where a glob's matches can start: its leading literal components (without the last), so the walk skips the rest of the tree. */
function globStart(glob: string): string {
  const comps = glob.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
  const wild = comps.findIndex((c) => /[*?]/.test(c));
  return comps.slice(0, Math.min(wild < 0 ? comps.length : wild, comps.length - 1)).join('/');
}

async function removeGlobs(recipe: Recipe, tree: StagedTree, opts: ComposeOptions): Promise<void> {
  for (const r of recipe.remove) {
    const re = globToRegExp(r.glob);
    const hits: string[] = [];
    const start = globStart(r.glob);
    if (tree.lstat(start)?.isDirectory()) {
      walkTree(tree, start, (p) => {
        if (!re.test(p)) return true;
        hits.push(p);
        return false;
      });
      for (const p of hits) tree.remove(p);
    }
    opts.onNote?.({ step: 'remove', level: hits.length ? 'info' : 'warning', message: hits.length ? `${r.glob}: removed ${hits.length} (${hits.slice(0, 3).map((h) => `/${h}`).join(', ')}${hits.length > 3 ? ', ...' : ''})` : `${r.glob} matched nothing (${r.at.file}:${r.at.line})` });
  }
}

async function runPostprocess(recipe: Recipe, stage: string, timestamp: bigint, opts: ComposeOptions, run: Runner): Promise<void> {
  for (const p of recipe.postprocess) {
    const hasShell = (await fsp.lstat(path.join(stage, 'bin/sh')).catch(() => null)) !== null
      || (await fsp.lstat(path.join(stage, 'usr/bin/sh')).catch(() => null)) !== null;
    const chroot = opts.asRoot && hasShell;
    opts.onProgress?.({ phase: 'postprocess', message: `postprocess "${p.name}"${chroot ? ' (in a chroot)' : ''}` });
    const env = { SOURCE_DATE_EPOCH: String(timestamp), LC_ALL: 'C.UTF-8', TREE: chroot ? '/' : stage };
    const r = chroot
      ? await run('chroot', [stage, '/bin/sh', '-e', '-c', p.script], { env, timeoutMs: p.timeout * 1000, signal: opts.signal })
      : await run('/bin/sh', ['-e', '-c', p.script, 'postprocess', stage], { cwd: stage, env, timeoutMs: p.timeout * 1000, signal: opts.signal });
    if (r.code !== 0 || r.timedOut) {
      const how = r.timedOut ? `timed out after ${p.timeout} s (killed)` : r.spawnError ? `could not start: ${r.spawnError}` : r.code === null ? `killed by ${r.signal}` : `exit status ${r.code}`;
      const out = r.output.trim() ? `; its output ended with:\n${lastLines(r.output, 20)}\n` : ' (no output)';
      throw stepError(`postprocess "${p.name}"`, p.at, `${how}${out}`, r.timedOut ? 'Make the script finish, or raise its timeout: (seconds).' : 'Fix the script; it runs with sh -e, so the first failing command stops it.', { name: p.name, timedOut: r.timedOut, exitCode: r.code });
    }
  }
}

async function installChecks(recipe: Recipe, tree: StagedTree): Promise<void> {
  for (const c of recipe.checks) {
    const dir = `usr/lib/greenboot/check/${c.kind}.d`;
    tree.ensureDir(dir);
    tree.writeFile(`${dir}/${c.name}`, c.script.startsWith('#!') ? c.script : `#!/bin/sh\n${c.script}`, 0o755);
  }
}

function metadataKey(m: VarDict): string {
  return JSON.stringify(m.filter(([k]) => k !== 'ostree.ref-binding' && k !== 'ostree.collection-binding'), (_k, val: unknown) => (typeof val === 'bigint' ? val.toString() : val));
}

/** Staged trees a killed compose left in REPO/tmp, older than core.tmp-expiry-secs (as staging directories are). */
async function removeStaleStages(repo: Repo): Promise<void> {
  const tmp = path.join(repo.path, 'tmp');
  const expiry = Number(repo.config.get('core', 'tmp-expiry-secs') ?? 86400) * 1000;
  for (const n of await fsp.readdir(tmp).catch(() => [] as string[])) {
    // A staged tree an earlier compose discarded, whose removal did not finish.
    if (n.startsWith('discarded-compose-')) {
      await removePath(path.join(tmp, n));
      continue;
    }
    if (!n.startsWith('compose-')) continue;
    const st = await fsp.lstat(path.join(tmp, n)).catch(() => null);
    if (st && repo.host.now() - st.mtimeMs > expiry) await removePath(path.join(tmp, n));
  }
}

/** Build, commit, sign and move the ref, as the plan says. */
export async function compose(repo: Repo, recipe: Recipe, plan: BuildPlan, opts: ComposeOptions): Promise<ComposeResult> {
  const run: Runner = opts.run ?? runCommand;
  const notes: ComposeNote[] = [];
  const note = (n: ComposeNote): void => {
    notes.push(n);
    opts.onNote?.(n);
  };
  const o: ComposeOptions = { ...opts, onNote: note };
  // Keys first: a build is not started for a commit that could not be signed.
  const signers = await loadSigners(recipe, o);
  const timestamp = plan.timestamp ?? BigInt(Math.floor(repo.host.now() / 1000));
  if (plan.timestamp === null) note({ step: 'commit', level: 'warning', message: 'no timestamp: in the recipe nor SOURCE_DATE_EPOCH; the commit time is now, so the checksum changes with every build' });
  await removeStaleStages(repo);
  const work = path.join(repo.path, 'tmp', `compose-${randomSuffix()}`);
  const stage = path.join(work, 'tree');
  await fsp.mkdir(stage, { recursive: true, mode: 0o755 });
  await fsp.chmod(stage, 0o755);
  try {
    const provenance: VarDict = [];
    opts.onProgress?.({ phase: 'base', message: `base: ${recipe.base.kind}` });
    const tree = await stageBase(repo, recipe, stage, o, run, provenance);
    for (const [i, l] of recipe.layers.entries()) {
      opts.onProgress?.({ phase: 'layer', message: `layer ${i + 1}: ${l.kind}` });
      await laySource(repo, l, stage, o, run, `layers[${i}]`, provenance, true);
    }
    await stepOf('files', () => writeFiles(recipe, tree, o));
    await stepOf('remove', () => removeGlobs(recipe, tree, o));
    await runPostprocess(recipe, stage, timestamp, o, run);
    await stepOf('checks', () => installChecks(recipe, tree));
    opts.onProgress?.({ phase: 'conventions', message: 'OSTree conventions' });
    for (const n of await stepOf('conventions', () => applyConventions(tree))) note(n);
    let kernel: string | null = null;
    try {
      const k = await findKernel(tree.reader(), 'the composed tree', { bootcsum: false });
      kernel = /^usr\/lib\/modules\/([^/]+)\//.exec(k.kernel.src)?.[1] ?? path.basename(k.kernel.dest).replace(/^vmlinuz-/, '');
      note({ step: 'bootable', level: 'info', message: `kernel ${kernel}${k.initramfs ? ' with an initramfs' : ' without an initramfs'}` });
    } catch (e) {
      if (!(e instanceof OstreeTsError && e.code === Codes.NOT_FOUND)) throw e;
      if (recipe.bootable) {
        throw stepError('bootable', undefined, 'the tree has no kernel (looked in /usr/lib/modules/KVER/vmlinuz, /boot/vmlinuz-KVER, /usr/lib/ostree-boot)', 'Add a kernel (a layer, or the linux-image package), or set `bootable: false` for a tree that is not booted.');
      }
    }
    const metadata: VarDict = recipe.metadata.map(([k, val]): [string, Variant] => [k, { type: 's', value: val }]);
    if (recipe.version !== undefined) metadata.push(['version', { type: 's', value: recipe.version }]);
    if (kernel !== null) {
      metadata.push(['ostree.bootable', { type: 'b', value: true }]);
      metadata.push(['ostree.linux', { type: 's', value: kernel }]);
    }
    metadata.push(...provenance);
    const sizes = { files: 0, bytes: 0 };
    const subject = recipe.subject ?? `${recipe.ref}${recipe.version ? ` ${recipe.version}` : ''}`;
    const body = recipe.body ?? '';
    const previous = await readRef(repo, recipe.ref);
    // Unchanged inputs give the commit the ref names (same tree, time and metadata): nothing new.
    let sameFields = false;
    if (previous) {
      const p = await repo.loadCommit(previous);
      sameFields = p.subject === subject && p.body === body && p.timestamp === timestamp && metadataKey(p.metadata) === metadataKey(metadata);
    }
    opts.onProgress?.({ phase: 'commit', message: 'committing' });
    const sources = tree.commitSources();
    const result = await commitTree(repo, {
      trees: sources.trees,
      skipList: sources.skipList,
      branch: recipe.ref,
      subject,
      body,
      timestamp,
      metadata,
      ownerUid: opts.asRoot ? undefined : 0,
      ownerGid: opts.asRoot ? undefined : 0,
      skipIfUnchanged: sameFields,
      sign: signers.length ? (data, detached) => signDetached(data, signers, detached) : undefined,
      fsync: opts.fsync,
      signal: opts.signal,
      tally: sizes,
      onProgress: (e) => opts.onProgress?.({ phase: 'commit', message: `committing: ${e.filesDone} files, ${(e.bytesDone / 1048576).toFixed(0)} MiB` }),
    });
    let changes: ChangeSummary | null = null;
    if (previous && !result.skipped) {
      const d = await diffRevs(repo, previous, result.checksum);
      // Sizes from the staged tree, which is still there: only the largest few are kept.
      const biggest: ChangeSummary['biggest'] = [];
      const consider = async (p: string, change: 'added' | 'modified'): Promise<void> => {
        const st = tree.lstat(p);
        if (!st?.isFile()) return;
        biggest.push({ path: p, change, size: st.size });
        biggest.sort((a, b) => b.size - a.size || byName(a.path, b.path));
        if (biggest.length > 5) biggest.pop();
      };
      for (const p of d.added) await consider(p, 'added');
      for (const p of d.modified) await consider(p, 'modified');
      changes = { added: d.added.length, removed: d.removed.length, modified: d.modified.length, biggest };
    } else if (previous) changes = { added: 0, removed: 0, modified: 0, biggest: [] };
    return {
      ref: recipe.ref, checksum: result.checksum, previous, unchanged: result.skipped, version: recipe.version, timestamp,
      files: sizes.files, bytes: sizes.bytes, kernel, signed: signers.length > 0 && !result.skipped, changes, notes,
    };
  } catch (e) {
    await removePath(work);
    throw e;
  } finally {
    // Built (a failure removed it above): the staged tree goes in the background, thousands of unlinks nobody waits for.
    if (await exists(work)) await discardTree(work, path.join(repo.path, 'tmp', `discarded-compose-${randomSuffix()}`));
  }
}
