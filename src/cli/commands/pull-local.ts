import { Codes, OstreeTsError } from '../../errors/index.js';
import { fsp, isErrno, path } from '../../io/fs.js';
import { pathToFileURL } from 'node:url';
import { isChecksum } from '../../format/checksum.js';
import { listRefs, resolveRev, writeRef } from '../../repo/refs.js';
import { pull } from '../../transport/pull.js';
import { pullLocal, type PullLocalOptions } from '../../repo/pull-local.js';
import { Repo } from '../../repo/repo.js';
import { remotePolicy, verifySignatures, type VerifyPolicy } from '../../sign/policy.js';
import { verifySummary } from '../../transport/remote-summary.js';
import { openRepo, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { arg, args, flag, JSON_OPTION, num, str } from '../options.js';
import { progressLine } from '../progress.js';
import { formatSize } from '../summary-view.js';

/** The remote's GPG keys, for --gpg-verify and --gpg-verify-summary (ed25519 checks stay off for local copies, as in OSTree). */
async function gpgPolicy(repo: Repo, remote: string | undefined, o: { gpgVerify: boolean; gpgVerifySummary: boolean }): Promise<VerifyPolicy | null> {
  if (!o.gpgVerify && !o.gpgVerifySummary) return null;
  if (!remote) throw new OstreeTsError(Codes.USAGE, 'Must specify remote name to enable gpg verification: pass --remote=REMOTE, whose keys are used.');
  const base = await remotePolicy(repo, remote);
  return { ...base, gpgVerify: o.gpgVerify, gpgVerifySummary: o.gpgVerifySummary, signVerify: [], signVerifySummary: [] };
}

async function verifySourceSummary(src: Repo, policy: VerifyPolicy): Promise<void> {
  const read = (name: string): Promise<Buffer | null> => fsp.readFile(path.join(src.path, name)).catch((e: unknown) => {
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  });
  const summary = await read('summary');
  if (!summary) throw new OstreeTsError(Codes.SIGNATURE, `GPG verification of the summary was asked for, but ${src.path} has no summary.`, { source: src.path });
  await verifySummary(summary, await read('summary.sig'), policy, {
    subject: `repository ${src.path}`, url: path.join(src.path, 'summary'), sigUrl: path.join(src.path, 'summary.sig'), data: { source: src.path },
  });
}

/**
 * --require-static-deltas: libostree then treats the source as a remote at a
 * file:// URL (not as a local repository whose objects are copied), and
 * takes each commit through a static delta, or fails.
 */
async function pullThroughDeltas(repo: Repo, src: Repo, o: { refs: string[]; remote?: string; json: boolean; disableFsync: boolean; depth?: number; disableVerifyBindings: boolean }, policy: VerifyPolicy | null): Promise<void> {
  const named = o.refs.length ? o.refs : (await listRefs(src, { remotes: false })).map((r) => r.ref);
  const overrideCommits: Record<string, string> = {};
  for (const ref of named) {
    const checksum = await resolveRev(src, ref);
    if (!checksum) throw new OstreeTsError(Codes.REF_NOT_FOUND, `${src.path} has no ref ${ref}.`, { ref, source: src.path });
    overrideCommits[ref] = checksum;
  }
  const none: VerifyPolicy = { source: `repository ${src.path}`, gpgVerify: false, gpgVerifySummary: false, gpgKeys: [], signVerify: [], signVerifySummary: [], ed25519Keys: [] };
  const name = o.remote ?? 'pull-local';
  const result = await pull(repo, name, named, {
    url: pathToFileURL(src.path).href, policy: policy ?? none, staticDeltas: 'require', overrideCommits, noRefs: true,
    depth: o.depth, disableVerifyBindings: o.disableVerifyBindings, ...(o.disableFsync ? { disableFsync: true } : {}),
    ...(o.remote === undefined ? { bindingCollectionId: src.config.get('core', 'collection-id')?.trim() || null } : {}),
  }).catch((e: unknown) => {
    // Without --remote the source has no remote name: say which repository it is.
    if (o.remote === undefined && e instanceof OstreeTsError && e.message.includes(`Remote '${name}'`)) {
      throw new OstreeTsError(e.code, e.message.split(`Remote '${name}'`).join(`Repository ${src.path}`), e.data, { cause: e });
    }
    throw e;
  });
  // Refs last, as a pull-local without deltas writes them: REF, or REMOTE:REF.
  for (const r of result.refs) if (!isChecksum(r.ref)) await writeRef(repo, o.remote ? `${o.remote}:${r.ref}` : r.ref, r.checksum);
  if (o.json) return printDocument('PullResult', result);
  write(`${result.deltas.length} static delta${result.deltas.length === 1 ? '' : 's'} applied (${result.deltas.join(', ')}); ${formatSize(result.bytes)} transferred\n`);
}

export default verb({
  positionals: {
    src: arg('Path of the source repository (any mode)'),
    refs: args("Refs or commit checksums to copy (default: all of the source's local refs)"),
  },
  options: {
    remote: str('Write the refs as REMOTE:REF'),
    untrusted: flag('Verify every object, even those an archive repository could copy as stored'),
    depth: num('Parent commits to copy too (-1: the whole history; default 0)'),
    'commit-metadata-only': flag('Copy only the commits (left marked partial)'),
    'disable-fsync': flag('Do not make writes durable (fast; unsafe on power loss)'),
    'disable-verify-bindings': flag("Do not check the commits' ref bindings"),
    'gpg-verify': flag('Require valid GPG signatures on the commits, from the keys of --remote'),
    'gpg-verify-summary': flag("Require a valid GPG signature on the source's summary, from the keys of --remote"),
    'object-batch': num('Objects made durable at a time (default 2000): what an interrupted copy keeps'),
    'bareuseronly-files': flag('Refuse files with mode bits outside 0775 (setuid, setgid, sticky, world-writable)'),
    'require-static-deltas': flag("Require static deltas: the commits come only through the source's static deltas (listed in its summary), as a pull over HTTP would take them; refused into an archive repository"),
    'per-object-fsync': flag('Make each object durable as it is stored (one sync per object: slower, keeps the most after a crash)'),
    json: JSON_OPTION,
  },
  examples: [
    ['$0 --repo=repo pull-local /srv/build-repo os/x86_64/stable', 'Copy a branch from a local repository'],
    ['$0 --repo=repo pull-local --remote=origin --untrusted ../other os/x86_64/stable', 'Copy as a remote ref, verifying every object'],
  ],
  async run(o) {
    const repo = await openRepo(o);
    const src = await Repo.open(o.src);
    const policy = await gpgPolicy(repo, o.remote, o);
    if (policy?.gpgVerifySummary) await verifySourceSummary(src, policy);
    if (o.disableFsync) {
      // For this run only (never saved): refs are written without fsync too.
      repo.config.set('core', 'fsync', 'false');
    }
    const progress = progressLine();
    const opts: PullLocalOptions = {
      remote: o.remote,
      untrusted: o.untrusted,
      depth: o.depth,
      commitMetadataOnly: o.commitMetadataOnly,
      disableVerifyBindings: o.disableVerifyBindings,
      fsync: o.disableFsync ? false : undefined,
      // Per object: every object its own durable batch.
      batch: o.perObjectFsync ? 1 : o.objectBatch,
      bareUserOnlyFiles: o.bareuseronlyFiles,
      verifyCommit: policy?.gpgVerify
        ? async (checksum, bytes, detached) => { await verifySignatures(bytes, detached, policy, { kind: 'commit', checksum }); }
        : undefined,
      onProgress: (e) => progress.update(`Importing objects: ${e.metadata} metadata, ${e.content} content`),
    };
    if (opts.depth !== undefined && (!Number.isInteger(opts.depth) || opts.depth < -1)) {
      throw new OstreeTsError(Codes.USAGE, `--depth must be -1 (all history), 0 or a positive number, not ${String(o.depth)}.`);
    }
    if (o.requireStaticDeltas) return pullThroughDeltas(repo, src, o, policy);
    const result = await pullLocal(repo, src, o.refs, opts);
    progress.done();
    if (o.json) return printDocument('PullLocalResult', result);
    write(`${result.metadataImported} metadata, ${result.contentImported} content objects imported; ${formatSize(result.contentBytesWritten)} content written\n`);
  },
});
