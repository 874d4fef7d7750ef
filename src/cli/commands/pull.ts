import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { pull, type PullOptions, type PullResult } from '../../transport/index.js';
import { asList, last, openRepo, write, type GlobalArgs } from '../common.js';
import { formatBytes, jsonPullRenderer, plainPullRenderer, ttyPullRenderer, type PullRenderer } from '../progress.js';

export const command = 'pull <remote> [refs..]';
export const describe = 'Download commits (and what they need) from a remote, verified';

export function builder(y: Argv): Argv {
  return y
    .positional('remote', { type: 'string', describe: 'Remote name (ostree-ts remote add), or REMOTE:REF' })
    .positional('refs', { type: 'string', describe: "Refs to pull (default: the remote's branches; with --mirror, every ref it lists)" })
    .option('depth', { type: 'string', describe: 'Also pull this many parent commits (-1: all). Parents the server lacks end the history quietly' })
    .option('commit-metadata-only', { type: 'boolean', describe: 'Fetch only the commits and their detached metadata; they stay marked partial' })
    .option('mirror', { type: 'boolean', describe: 'Write refs/heads/REF instead of REMOTE:REF; with no refs, pull every ref in the summary and copy the summary' })
    .option('subpath', { type: 'string', describe: 'Only the objects under this absolute path (repeatable); the commit stays marked partial' })
    .option('dry-run', { type: 'boolean', describe: 'Say what would be fetched (refs, commits, objects, bytes when known) and change nothing' })
    .option('timestamp-check', { alias: 'T', type: 'boolean', describe: 'Refuse a commit older than the one the local ref names' })
    .option('disable-verify-bindings', { type: 'boolean', describe: "Accept a commit whose ref binding does not name the ref pulled (by default refused, as ostree does)" })
    .option('disable-static-deltas', { type: 'boolean', describe: 'Never use static deltas; fetch objects' })
    .option('require-static-deltas', { type: 'boolean', describe: 'Fail unless a static delta can be used' })
    .option('json', { type: 'boolean', describe: 'Print the result as JSON' })
    .option('json-progress', { type: 'boolean', describe: 'Write progress to stdout as JSON lines ({"v":1,"type":"start"|"commit"|"objects"|"delta"|"done"|"error",...})' })
    .option('object-batch', { type: 'string', describe: 'Objects made durable at a time: what an interrupted pull keeps (default 2000, and a batch every 3 s at most)' })
    .example('$0 --repo=repo pull origin os/x86_64/stable', 'Fetch and verify the latest commit of a branch (ref origin:os/x86_64/stable)')
    .example('$0 --repo=repo pull --depth=2 origin os/stable', 'The commit and its two parents, with their trees (for diffs and rollbacks)')
    .example('$0 --repo=repo pull --commit-metadata-only --depth=-1 origin os/stable', 'The whole history, commits only: enough for log, nothing to check out')
    .example('$0 --repo=repo pull --subpath=/usr/share/doc origin os/stable', 'One directory of the tree; the commit stays partial')
    .example('$0 --repo=mirror pull --mirror origin', 'Every ref of the remote as refs/heads/REF, and its summary: a mirror that can be served')
    .example('$0 --repo=repo pull --dry-run origin os/stable', 'How many objects (and bytes, when the commit lists sizes) a pull would fetch')
    .example('$0 --repo=repo pull -T origin os/stable', 'Refuse to move the ref to an older commit (a rollback served by the remote)')
    .example('$0 --repo=repo pull --json-progress origin os/stable | jq -c .', 'Progress as JSON lines for another program');
}

interface PullArgs extends GlobalArgs {
  remote: string;
  refs?: string[] | string;
  depth?: string | string[];
  commitMetadataOnly?: boolean | boolean[];
  mirror?: boolean | boolean[];
  subpath?: string | string[];
  dryRun?: boolean | boolean[];
  timestampCheck?: boolean | boolean[];
  disableStaticDeltas?: boolean | boolean[];
  disableVerifyBindings?: boolean | boolean[];
  requireStaticDeltas?: boolean | boolean[];
  json?: boolean | boolean[];
  jsonProgress?: boolean | boolean[];
  objectBatch?: string | string[];
}

function wholeNumber(v: string | undefined, what: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim()) || Number(v) < min) {
    throw new OstreeTsError(Codes.USAGE, `${what} takes a whole number${min < 0 ? ` (${min} or more)` : min > 0 ? ` (${min} or more)` : ''}; got '${v}'.`, { value: v });
  }
  return Number(v);
}

/** The pull's options from the command line, checked the way ostree checks them. */
export function pullOptions(argv: PullArgs): PullOptions {
  const disable = last(argv.disableStaticDeltas) === true;
  const require = last(argv.requireStaticDeltas) === true;
  if (disable && require) throw new OstreeTsError(Codes.USAGE, '--disable-static-deltas and --require-static-deltas contradict each other; give one.');
  return {
    depth: wholeNumber(last(argv.depth), '--depth', -1),
    commitMetadataOnly: last(argv.commitMetadataOnly) === true,
    mirror: last(argv.mirror) === true,
    subpaths: asList(argv.subpath),
    dryRun: last(argv.dryRun) === true,
    timestampCheck: last(argv.timestampCheck) === true,
    disableVerifyBindings: last(argv.disableVerifyBindings) === true,
    staticDeltas: disable ? 'disable' : require ? 'require' : 'auto',
    batch: wholeNumber(last(argv.objectBatch), '--object-batch', 1),
  };
}

/** Text for a finished pull. */
export function renderPull(r: PullResult): string {
  const out: string[] = [];
  if (r.dryRun) {
    for (const ref of r.refs) {
      const from = ref.previous ? (ref.changed ? `${ref.previous} -> ` : 'unchanged at ') : 'new at ';
      out.push(`${ref.localRef}: ${from}${ref.checksum}`);
    }
    const stored = r.commits.filter((c) => c.stored && !c.partial).length;
    out.push(`${r.commits.length} commit${r.commits.length === 1 ? '' : 's'} (${stored} complete here)`);
    const size = r.needed.bytes === null ? 'size unknown (the commit lists no object sizes)' : formatBytes(r.needed.bytes);
    out.push(`Would fetch ${r.needed.objects} objects (${r.needed.metadata} metadata, ${r.needed.content} content), ${size}`);
    out.push(`Dry run: nothing was stored and no ref moved (${formatBytes(r.bytes)} of directory listings read).`);
    return `${out.join('\n')}\n`;
  }
  for (const ref of r.refs) out.push(`${ref.localRef} ${ref.checksum}${ref.changed ? '' : ' (unchanged)'}`);
  const partial = r.commits.filter((c) => c.partial);
  if (partial.length) out.push(`${partial.length} commit${partial.length === 1 ? '' : 's'} left partial (as asked): ${partial.map((c) => c.checksum.slice(0, 12)).join(', ')}`);
  if (r.deltas.length) out.push(`Static deltas: ${r.deltas.join(', ')}`);
  if (r.summaryCopied) out.push('Summary copied from the remote');
  out.push(`${r.fetched} objects fetched, ${formatBytes(r.bytes)} transferred`);
  return `${out.join('\n')}\n`;
}

export async function handler(argv: PullArgs): Promise<void> {
  let remote = argv.remote;
  let refs = asList(argv.refs);
  // REMOTE:REF, as ostree accepts it.
  const colon = remote.indexOf(':');
  if (colon > 0) {
    if (refs.length) throw new OstreeTsError(Codes.USAGE, `Give either REMOTE:REF or REMOTE REF..., not both ('${remote}' and ${refs.join(' ')}).`);
    refs = [remote.slice(colon + 1)];
    remote = remote.slice(0, colon);
  }
  const opts = pullOptions(argv);
  const jsonProgress = last(argv.jsonProgress) === true;
  const repo = await openRepo(argv);
  const renderer: PullRenderer = jsonProgress
    ? jsonPullRenderer(process.stdout)
    : process.stderr.isTTY ? ttyPullRenderer(process.stderr) : plainPullRenderer(process.stderr);
  let result: PullResult;
  try {
    result = await pull(repo, remote, refs, { ...opts, onProgress: (e) => renderer.onEvent(e) });
  } catch (e) {
    renderer.finish(e);
    throw e;
  }
  renderer.finish();
  // With --json-progress, stdout carries only JSON lines; the done event holds the result.
  if (jsonProgress) return;
  if (last(argv.json)) {
    write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  write(renderPull(result));
}
