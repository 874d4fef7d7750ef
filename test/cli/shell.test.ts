/**
 * The command-line shell shared by ostree-ts and atomic: plain command lines
 * parse to exactly what yargs makes of them; exit statuses follow the table
 * (atomic) or ostree's convention (ostree-ts); hints name the flag; every
 * JSON output is a document with apiVersion and kind; --help is grouped and
 * atomic's explains the set-up and the exit statuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Codes, InternalError, OstreeTsError } from '../../src/errors/index.js';
import { PROGRAM as ATOMIC_PROGRAM } from '../../src/cli/atomic/index.js';
import { PROGRAM as OSTREE_PROGRAM } from '../../src/cli/commands/index.js';
import { EXIT_STATUS_HELP, exitStatusOf } from '../../src/cli/report.js';
import { parseCommandLine, type Program } from '../../src/cli/shell.js';
import { ROOT, ok, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';
import { atomic } from '../helpers/host.js';
import { makeBasicTree } from '../helpers/trees.js';

/** The same command line through both parsers: the same verb, the same options. */
async function bothParsers(program: Program, args: string[]): Promise<Record<string, unknown>> {
  const plain = await parseCommandLine(program, args);
  const yargs = await parseCommandLine(program, args, { plain: false });
  assert.ok(plain && yargs, args.join(' '));
  assert.equal(plain.parser, 'plain', `${args.join(' ')}: read without yargs`);
  assert.equal(yargs.parser, 'yargs');
  assert.deepEqual(plain.path, yargs.path, args.join(' '));
  assert.deepEqual(plain.options, yargs.options, args.join(' '));
  return plain.options;
}

test('plain command lines parse as yargs parses them, into typed options', async () => {
  const o = await bothParsers(OSTREE_PROGRAM, ['--repo=r', 'commit', '-b', 'os', '--tree=dir=a', '--tree', 'tar=b.tar', '-s', 'one', '-s', 'two',
    '--add-metadata-string=version=1', '--owner-uid=0', '--keys-file=k', 'dir']);
  assert.equal(o.repo, 'r');
  assert.equal(o.branch, 'os');
  assert.deepEqual(o.tree, ['dir=a', 'tar=b.tar'], 'a repeatable option is a list');
  assert.equal(o.subject, 'two', 'a single-value option given twice: the last');
  assert.deepEqual(o.addMetadataString, ['version=1']);
  assert.equal(o.ownerUid, 0);
  assert.equal(o.path, 'dir');
  assert.equal(o.orphan, false, 'an absent flag is false');
  // --fsync=false goes through yargs (a flag with a value), which makes it false; absent it is undefined.
  assert.equal((await parseCommandLine(OSTREE_PROGRAM, ['commit', '--fsync=false', '-b', 'x']))?.options.fsync, false);
  assert.equal((await bothParsers(OSTREE_PROGRAM, ['commit', '-b', 'x'])).fsync, undefined, 'an absent tri-state is undefined');
  await bothParsers(OSTREE_PROGRAM, ['rev-parse', 'os^']);
  await bothParsers(OSTREE_PROGRAM, ['--repo', 'r', 'log', '--json', 'os']);
  await bothParsers(OSTREE_PROGRAM, ['ls', '-R', '-C', 'os', '/usr', '/etc']);
  await bothParsers(OSTREE_PROGRAM, ['pull', '--depth=-1', '--subpath=/a', '--subpath=/b', '-T', 'origin', 'os', 'other']);
  await bothParsers(OSTREE_PROGRAM, ['static-delta', 'generate', '--from=a', '--to', 'b', '--max-chunk-size=8', '-n']);
  await bothParsers(OSTREE_PROGRAM, ['config', 'set', 'core.fsync', 'false']);
  await bothParsers(OSTREE_PROGRAM, ['remote', 'add', '--set=a=b', '--set=c=d', '--no-gpg-verify', 'origin', 'http://127.0.0.1:1/', 'os', 'apps']);
  await bothParsers(OSTREE_PROGRAM, ['prune', '--refs-only', '--depth=0', '--no-prune']);
  const admin = await bothParsers(OSTREE_PROGRAM, ['admin', '--sysroot=/s', 'deploy', '--os=x', '--karg=a=b', '--karg=c', '--karg-append=d', 'origin:os']);
  assert.deepEqual(admin.karg, ['a=b', 'c']);
  assert.equal(admin.sysroot, '/s', 'the option of admin itself, before the verb');
  assert.equal((await bothParsers(OSTREE_PROGRAM, ['admin', 'status', '--sysroot', '/s', '--json'])).sysroot, '/s', 'or after it');
  await bothParsers(OSTREE_PROGRAM, ['admin', 'pin', '--unpin', '0', '1']);
  await bothParsers(ATOMIC_PROGRAM, ['--sysroot=/s', 'status', '--json']);
  await bothParsers(ATOMIC_PROGRAM, ['upgrade', '--check', '--karg=quiet', '--os', 'debian', '-r', '--lock-wait']);
  await bothParsers(ATOMIC_PROGRAM, ['kargs', '--append=a', '--append=b', '--delete=c', '--index=1']);
  await bothParsers(ATOMIC_PROGRAM, ['pin', '-u', '2']);
});

test('anything else goes through yargs, which refuses what it does not know', async () => {
  for (const args of [['ls', '-RC', 'os'], ['cat', 'os', '-'], ['commit', '--fsync', 'false', '-b', 'x'], ['checkout', '-UH', 'os', 'd']]) {
    const r = await parseCommandLine(OSTREE_PROGRAM, args);
    assert.equal(r?.parser, 'yargs', args.join(' '));
  }
  assert.deepEqual((await parseCommandLine(OSTREE_PROGRAM, ['ls', '-RC', 'os']))?.options.recursive, true);
  for (const args of [['show'], ['rev-parse', 'a', 'b'], ['commit', '--frob'], ['config', 'frob', 'a.b'], ['admin', 'status', '--karg=x'], ['frob'], ['admin', 'frob']]) {
    await assert.rejects(parseCommandLine(OSTREE_PROGRAM, args), (e: unknown) => e instanceof OstreeTsError && e.code === Codes.USAGE, args.join(' '));
  }
  await assert.rejects(parseCommandLine(ATOMIC_PROGRAM, ['upgrade', '--frob']), { code: Codes.USAGE });
});

test('exit statuses: atomic tells refusals apart; ostree-ts exits 1 for every failure, as ostree does', async () => {
  const cases: Array<[unknown, number, number]> = [
    [new OstreeTsError(Codes.USAGE, 'x'), 2, 1],
    [new OstreeTsError(Codes.LOCKED, 'x'), 3, 1],
    [new OstreeTsError(Codes.SIGNATURE, 'x'), 4, 1],
    [new OstreeTsError(Codes.PREFLIGHT, 'x', { check: 'signature' }), 4, 1],
    [new OstreeTsError(Codes.PREFLIGHT, 'x', { check: 'boot-space' }), 5, 1],
    [new OstreeTsError(Codes.NOT_FOUND, 'x'), 1, 1],
    [new InternalError('x'), 70, 70],
    [new TypeError('x'), 70, 70],
    [Object.assign(new Error('x'), { code: 'ENOENT', syscall: 'open' }), 1, 1],
  ];
  for (const [e, atomicStatus, ostreeStatus] of cases) {
    assert.equal(exitStatusOf(e, 'atomic'), atomicStatus, String(e));
    assert.equal(exitStatusOf(e, 'ostree'), ostreeStatus, String(e));
  }
  const unknownAtomic = await atomic('frob');
  assert.equal(unknownAtomic.code, 2);
  assert.match(unknownAtomic.stderr, /^error: Unknown command 'frob'\. Run 'atomic --help' for the list\.$/m);
  const badOption = await atomic('--sysroot=/nonexistent', 'upgrade', '--frob', '--json');
  assert.equal(badOption.code, 2);
  assert.match(badOption.stderr, /^Run 'atomic upgrade --help' for usage\.$/m);
  const doc = JSON.parse(badOption.stdout) as { apiVersion: string; kind: string; error: { code: string } };
  assert.deepEqual([doc.apiVersion, doc.kind, doc.error.code], ['ostree-ts/v1', 'Error', 'E_USAGE'], 'a usage error is an Error document too');
  const badPin = await atomic('--sysroot=/nonexistent', 'pin', 'x');
  assert.equal(badPin.code, 2);
  assert.match(badPin.stderr, /'x' is not a deployment index/);
  assert.equal((await ots('frob')).code, 1);
  const missing = await ots('show');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^Run 'ostree-ts show --help' for usage\.$/m);
});

test('an internal error is reported as a bug, its stack only with --verbose', async () => {
  const script = (verbose: boolean): string => `
    import { InternalError } from ${JSON.stringify(path.join(ROOT, 'dist', 'src', 'errors', 'index.js'))};
    import { reportError } from ${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'report.js'))};
    process.exitCode = reportError(new InternalError('a plan named a dirtree twice', { checksum: 'abc' }), { convention: 'atomic', verbose: ${verbose}, json: true });`;
  for (const verbose of [false, true]) {
    const r = await run(process.execPath, ['--input-type=module', '-e', script(verbose)]);
    assert.equal(r.code, 70);
    assert.match(r.stderr, /^error: Internal error: a plan named a dirtree twice\nThis is a bug in ostree-ts; please report it/);
    assert.equal(/\n\s+at /.test(r.stderr), verbose, `a stack trace ${verbose ? 'with' : 'without'} --verbose`);
    const doc = JSON.parse(r.stdout) as { kind: string; error: { code: string; data: { checksum: string } } };
    assert.deepEqual([doc.kind, doc.error.code, doc.error.data.checksum], ['Error', 'E_INTERNAL', 'abc']);
  }
});

test('hints: the library names the option, the CLI its flag', async (t) => {
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  const src = await makeBasicTree(path.join(dir, 'src'));
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const noBranch = await ots(`--repo=${repo}`, 'commit', `--tree=dir=${src}`);
  assert.equal(noBranch.code, 1);
  assert.match(noBranch.stderr, /^error: A branch is required: name the branch to commit to, or make an orphan commit \(one without a ref\)\.\nhint: pass -b BRANCH, or --orphan for a commit without a ref\.\n$/);
  const noRepo = await ots(`--repo=${path.join(dir, 'none')}`, 'refs');
  assert.match(noRepo.stderr, /\nhint: pass --repo=PATH \(or set OSTREE_REPO\)\.\n$/);
  const noSysroot = await atomic(`--sysroot=${dir}`, 'status', '--json');
  assert.equal(noSysroot.code, 1);
  assert.match(noSysroot.stderr, /is not an OSTree sysroot.*\nhint: pass --sysroot=DIR\.\n$/);
  const doc = JSON.parse(noSysroot.stdout) as { error: { code: string; data: { hint: { option: string } } } };
  assert.equal(doc.error.code, 'E_SYSROOT_INVALID');
  assert.deepEqual(doc.error.data.hint, { option: 'sysroot' }, 'the hint is data, for programs too');
});

test('every JSON output is a document: apiVersion ostree-ts/v1 and a kind', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  const src = await makeBasicTree(path.join(dir, 'src'));
  await ok(ostree('init', `--repo=${repo}`, '--mode=archive'));
  const a = await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'os', `--tree=dir=${src}`, '--timestamp=@1700000000'));
  const b = await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'os', `--tree=dir=${src}`, '--timestamp=@1700000100', '-s', 'two'));
  await ok(ots(`--repo=${repo}`, 'static-delta', 'generate', `--from=${a}`, `--to=${b}`));
  await ok(ots(`--repo=${repo}`, 'summary', '-u'));
  const kinds: Array<[string[], string]> = [
    [['refs'], 'RefList'],
    [['log', 'os'], 'CommitLog'],
    [['show', 'os'], 'Commit'],
    [['diff', a, b], 'TreeDiff'],
    [['fsck'], 'FsckReport'],
    [['prune', '--no-prune'], 'PruneResult'],
    [['summary', '--view'], 'Summary'],
    [['static-delta', 'list'], 'StaticDeltaList'],
    [['static-delta', 'show', `${a}-${b}`], 'StaticDelta'],
  ];
  for (const [args, kind] of kinds) {
    const doc = JSON.parse(await ok(ots(`--repo=${repo}`, ...args, '--json'), args.join(' '))) as { apiVersion: string; kind: string };
    assert.deepEqual([doc.apiVersion, doc.kind], ['ostree-ts/v1', kind], args.join(' '));
  }
  const deltas = JSON.parse(await ok(ots(`--repo=${repo}`, 'static-delta', 'list', '--json'))) as { deltas: string[] };
  assert.deepEqual(deltas.deltas, [`${a}-${b}`]);
  for (const line of (await ok(ots(`--repo=${repo}`, 'ls', '-R', '--json', 'os'))).split('\n')) {
    const e = JSON.parse(line) as { apiVersion: string; kind: string; path: string };
    assert.deepEqual([e.apiVersion, e.kind], ['ostree-ts/v1', 'TreeEntry'], e.path);
  }
});

test('--help: commit in groups, atomic with examples, the one-time set-up and the exit statuses', async () => {
  const commit = await ok(ots('commit', '--help'));
  const headings = commit.split('\n').filter((l) => /^[A-Z][a-z ]+:$/.test(l));
  assert.deepEqual(headings, ['Positionals:', 'Tree sources:', 'Metadata:', 'Signing:', 'Filters:', 'Output:', 'Global options:', 'Examples:']);
  assert.match(commit, /^Record a tree \(directory, tar archive, git tree, commit\) as a new commit on a branch$/m, 'the description, once, from the table');
  const help = await atomic('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Examples:$/m);
  assert.match(help.stdout, /ostree-ts admin init-fs .*\n.*os-init .*\n(.*\n)*.*admin --sysroot=\S+ deploy /);
  for (const [status, what] of EXIT_STATUS_HELP) assert.ok(help.stdout.replace(/\s+/g, ' ').includes(`${status} ${what}`.replace(/\s+/g, ' ')), `exit status ${status} listed`);
  const status = await ok(atomic('status', '--help'));
  assert.match(status, /^Show the deployments: booted \(●\), default, rollback, pinned; version, commit, origin, signature$/m);
});
