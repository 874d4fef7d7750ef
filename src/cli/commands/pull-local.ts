import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { fsp, isErrno, path } from '../../io/index.js';
import { Repo, pullLocal, type PullLocalOptions } from '../../repo/index.js';
import { remotePolicy, verifySignatures, type VerifyPolicy } from '../../sign/index.js';
import { verifySummary } from '../../transport/remote-summary.js';
import { asList, last, openRepo, write, type GlobalArgs } from '../common.js';
import { progressLine } from '../progress.js';
import { formatSize } from '../summary-view.js';

export const command = 'pull-local <src> [refs..]';
export const describe = 'Copy commits (and what they need) from another repository on this machine';

export function builder(y: Argv): Argv {
  return y
    .positional('src', { type: 'string', describe: 'Path of the source repository (any mode)' })
    .positional('refs', { type: 'string', describe: "Refs or commit checksums to copy (default: all of the source's local refs)" })
    .option('remote', { type: 'string', describe: 'Write the refs as REMOTE:REF' })
    .option('untrusted', { type: 'boolean', describe: 'Verify every object, even those an archive repository could copy as stored' })
    .option('depth', { type: 'number', describe: 'Parent commits to copy too (-1: the whole history; default 0)' })
    .option('commit-metadata-only', { type: 'boolean', describe: 'Copy only the commits (left marked partial)' })
    .option('disable-fsync', { type: 'boolean', describe: 'Do not make writes durable (fast; unsafe on power loss)' })
    .option('disable-verify-bindings', { type: 'boolean', describe: "Do not check the commits' ref bindings" })
    .option('gpg-verify', { type: 'boolean', describe: "Require valid GPG signatures on the commits, from the keys of --remote" })
    .option('gpg-verify-summary', { type: 'boolean', describe: "Require a valid GPG signature on the source's summary, from the keys of --remote" })
    .option('object-batch', { type: 'number', describe: 'Objects made durable at a time (default 2000): what an interrupted copy keeps' })
    .option('json', { type: 'boolean', describe: 'Print the result as JSON' })
    .example('$0 --repo=repo pull-local /srv/build-repo os/x86_64/stable', 'Copy a branch from a local repository')
    .example('$0 --repo=repo pull-local --remote=origin --untrusted ../other os/x86_64/stable', 'Copy as a remote ref, verifying every object');
}

interface PullLocalArgs extends GlobalArgs {
  src: string; refs?: string[]; remote?: string | string[]; untrusted?: boolean; depth?: number | number[];
  commitMetadataOnly?: boolean; disableFsync?: boolean; disableVerifyBindings?: boolean;
  gpgVerify?: boolean; gpgVerifySummary?: boolean; objectBatch?: number | number[]; json?: boolean;
}

/** The remote's GPG keys, for --gpg-verify and --gpg-verify-summary (ed25519 checks stay off for local copies, as in OSTree). */
async function gpgPolicy(repo: Repo, remote: string | undefined, argv: PullLocalArgs): Promise<VerifyPolicy | null> {
  if (!argv.gpgVerify && !argv.gpgVerifySummary) return null;
  if (!remote) throw new OstreeTsError(Codes.USAGE, 'Must specify remote name to enable gpg verification: pass --remote=REMOTE, whose keys are used.');
  const base = await remotePolicy(repo, remote);
  return { ...base, gpgVerify: argv.gpgVerify === true, gpgVerifySummary: argv.gpgVerifySummary === true, signVerify: [], signVerifySummary: [] };
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

export async function handler(argv: PullLocalArgs): Promise<void> {
  const repo = await openRepo(argv);
  const src = await Repo.open(argv.src);
  const remote = last(argv.remote);
  const policy = await gpgPolicy(repo, remote, argv);
  if (policy?.gpgVerifySummary) await verifySourceSummary(src, policy);
  if (argv.disableFsync) {
    // For this run only (never saved): refs are written without fsync too.
    repo.config.set('core', 'fsync', 'false');
  }
  const depth = last(argv.depth);
  const batch = asList(argv.objectBatch).pop();
  const progress = progressLine();
  const opts: PullLocalOptions = {
    remote,
    untrusted: argv.untrusted,
    depth: depth === undefined ? undefined : Number(depth),
    commitMetadataOnly: argv.commitMetadataOnly,
    disableVerifyBindings: argv.disableVerifyBindings,
    fsync: argv.disableFsync ? false : undefined,
    batch: batch === undefined ? undefined : Number(batch),
    verifyCommit: policy?.gpgVerify
      ? async (checksum, bytes, detached) => { await verifySignatures(bytes, detached, policy, { kind: 'commit', checksum }); }
      : undefined,
    onProgress: (e) => progress.update(`Importing objects: ${e.metadata} metadata, ${e.content} content`),
  };
  if (opts.depth !== undefined && (!Number.isInteger(opts.depth) || opts.depth < -1)) {
    throw new OstreeTsError(Codes.USAGE, `--depth must be -1 (all history), 0 or a positive number, not ${String(depth)}.`);
  }
  const result = await pullLocal(repo, src, asList(argv.refs), opts);
  progress.done();
  if (argv.json) {
    write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  write(`${result.metadataImported} metadata, ${result.contentImported} content objects imported; ${formatSize(result.contentBytesWritten)} content written\n`);
}
