import { Codes, OstreeTsError } from '../../errors/index.js';
import { pull, type PullOptions, type PullResult } from '../../transport/pull.js';
import { Repo } from '../../repo/repo.js';
import { openRepo, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { arg, args, flag, JSON_OPTION, list, str, type Parsed } from '../options.js';
import { formatBytes, jsonPullRenderer, plainPullRenderer, ttyPullRenderer, type PullRenderer } from '../progress.js';

const OPTIONS = {
  depth: str('Also pull this many parent commits (-1: all). Parents the server lacks end the history quietly'),
  'commit-metadata-only': flag('Fetch only the commits and their detached metadata; they stay marked partial'),
  mirror: flag('Write refs/heads/REF instead of REMOTE:REF; with no refs, pull every ref in the summary and copy the summary'),
  subpath: list('Only the objects under this absolute path (repeatable); the commit stays marked partial'),
  'dry-run': flag('Say what would be fetched (refs, commits, objects, bytes when known) and change nothing'),
  'timestamp-check': flag('Refuse a commit older than the one the local ref names', { alias: 'T' }),
  'disable-verify-bindings': flag("Accept a commit whose ref binding does not name the ref pulled (by default refused, as ostree does)"),
  'disable-static-deltas': flag('Never use static deltas; fetch objects'),
  'require-static-deltas': flag('Fail unless a static delta can be used'),
  json: JSON_OPTION,
  'json-progress': flag('Write progress to stdout as JSON lines ({"v":1,"type":"start"|"commit"|"objects"|"delta"|"done"|"error",...})'),
  'low-speed-limit-bytes': str('Abandon (and retry) a transfer slower than N bytes/s over the low-speed time (default 1000; 0: off; the remote\'s low-speed-limit-bytes)'),
  'low-speed-time-seconds': str('The window of the low-speed limit, in seconds (default 30; the remote\'s low-speed-time-seconds)'),
  'request-timeout-seconds': str('Abandon (and retry) one request taking longer than N seconds (default 0: no limit; the remote\'s request-timeout-seconds)'),
  'pull-timeout-seconds': str('Stop the whole pull after N seconds, keeping what it stored (default 0: no limit; the remote\'s pull-timeout-seconds)'),
  'http-header': list('Send this HTTP header with every request, NAME=VALUE (repeatable); the remote\'s cookies (remote add-cookie) are sent too'),
  'network-retries': str('Try each download this many more times after a network error (default 4)'),
  url: str('Pull from this URL instead of the remote\'s configured one (its keys and verification still apply)'),
  'disable-fsync': flag('Do not sync what is stored to disk: faster, but a power cut may lose it'),
  'timestamp-check-from-rev': str('Refuse a commit older than the commit REV names'),
  'bareuseronly-files': flag('Refuse files with mode bits outside 0775 (setuid, setgid, sticky, world-writable); objects are then fetched one by one, never through a static delta'),
  untrusted: flag('Verify the checksum of every object from a local source too (always done: every object is verified, whatever its source)'),
  'http-trusted': flag('Accepted for scripts written for ostree; every object is still verified (its checksum is what names it)'),
  'update-frequency': str('Redraw the progress at most every N milliseconds (default 100; 0: the default)'),
  'cache-dir': str('Use custom cache dir: the summary and summary.sig are kept there (summaries/REMOTE), and the kept summary is used while the served summary.sig is unchanged'),
  'localcache-repo': list('Take objects from this local repository (any mode; repeatable) before fetching them; each is checked as if the remote had sent it', { alias: 'L' }),
  'per-object-fsync': flag('Make each object durable as it is stored (one sync per object: slower, keeps the most after a crash)'),
  'object-batch': str('Objects made durable at a time: what an interrupted pull keeps (default 2000, and a batch every 3 s at most)'),
};

function wholeNumber(v: string | undefined, what: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim()) || Number(v) < min) {
    throw new OstreeTsError(Codes.USAGE, `${what} takes a whole number${min < 0 ? ` (${min} or more)` : min > 0 ? ` (${min} or more)` : ''}; got '${v}'.`, { value: v });
  }
  return Number(v);
}

/** The pull's options from the command line, checked the way ostree checks them. */
export function pullOptions(o: Parsed<typeof OPTIONS>): PullOptions {
  if (o.disableStaticDeltas && o.requireStaticDeltas) throw new OstreeTsError(Codes.USAGE, '--disable-static-deltas and --require-static-deltas contradict each other; give one.');
  const depth = wholeNumber(o.depth, '--depth', -1);
  // The library checks these too; here they are said in terms of the flags.
  if (o.timestampCheck && (depth ?? 0) !== 0) throw new OstreeTsError(Codes.USAGE, '--timestamp-check compares the commits a ref names, so it cannot be combined with --depth (as in OSTree).');
  for (const s of o.subpath) {
    if (!s.startsWith('/')) throw new OstreeTsError(Codes.USAGE, `--subpath=${s}: give an absolute path inside the commit, such as /usr/bin.`, { subpath: s });
  }
  return {
    depth,
    commitMetadataOnly: o.commitMetadataOnly,
    mirror: o.mirror,
    subpaths: o.subpath,
    dryRun: o.dryRun,
    timestampCheck: o.timestampCheck,
    disableVerifyBindings: o.disableVerifyBindings,
    staticDeltas: o.disableStaticDeltas ? 'disable' : o.requireStaticDeltas ? 'require' : 'auto',
    // Per object: every object its own durable batch.
    batch: o.perObjectFsync ? 1 : wholeNumber(o.objectBatch, '--object-batch', 1),
    httpHeaders: o.httpHeader.map((h) => {
      const eq = h.indexOf('=');
      if (eq <= 0) throw new OstreeTsError(Codes.USAGE, `--http-header=${h}: give NAME=VALUE.`, { header: h });
      return [h.slice(0, eq), h.slice(eq + 1)] as [string, string];
    }),
    networkRetries: wholeNumber(o.networkRetries, '--network-retries', 0),
    url: o.url,
    disableFsync: o.disableFsync,
    timestampCheckFromRev: o.timestampCheckFromRev,
    bareUserOnlyFiles: o.bareuseronlyFiles,
    deadlines: {
      lowSpeedLimitBytes: wholeNumber(o.lowSpeedLimitBytes, '--low-speed-limit-bytes', 0),
      lowSpeedTimeSeconds: wholeNumber(o.lowSpeedTimeSeconds, '--low-speed-time-seconds', 0),
      requestTimeoutSeconds: wholeNumber(o.requestTimeoutSeconds, '--request-timeout-seconds', 0),
      pullTimeoutSeconds: wholeNumber(o.pullTimeoutSeconds, '--pull-timeout-seconds', 0),
    },
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

export default verb({
  positionals: {
    remote: arg('Remote name (ostree-ts remote add), or REMOTE:REF'),
    refs: args("Refs to pull (default: the remote's branches; with --mirror, every ref it lists)"),
  },
  options: OPTIONS,
  examples: [
    ['$0 --repo=repo pull origin os/x86_64/stable', 'Fetch and verify the latest commit of a branch (ref origin:os/x86_64/stable)'],
    ['$0 --repo=repo pull --depth=2 origin os/stable', 'The commit and its two parents, with their trees (for diffs and rollbacks)'],
    ['$0 --repo=repo pull --commit-metadata-only --depth=-1 origin os/stable', 'The whole history, commits only: enough for log, nothing to check out'],
    ['$0 --repo=repo pull --subpath=/usr/share/doc origin os/stable', 'One directory of the tree; the commit stays partial'],
    ['$0 --repo=mirror pull --mirror origin', 'Every ref of the remote as refs/heads/REF, and its summary: a mirror that can be served'],
    ['$0 --repo=repo pull --dry-run origin os/stable', 'How many objects (and bytes, when the commit lists sizes) a pull would fetch'],
    ['$0 --repo=repo pull -T origin os/stable', 'Refuse to move the ref to an older commit (a rollback served by the remote)'],
    ['$0 --repo=repo pull --low-speed-time-seconds=10 --pull-timeout-seconds=600 origin os/stable', 'Give up on a transfer stalled for 10 s, and on the whole pull after 10 minutes'],
    ['$0 --repo=repo pull --json-progress origin os/stable | jq -c .', 'Progress as JSON lines for another program'],
  ],
  async run(o) {
    let remote = o.remote;
    let refs = o.refs;
    // REMOTE:REF, as ostree accepts it.
    const colon = remote.indexOf(':');
    if (colon > 0) {
      if (refs.length) throw new OstreeTsError(Codes.USAGE, `Give either REMOTE:REF or REMOTE REF..., not both ('${remote}' and ${refs.join(' ')}).`);
      refs = [remote.slice(colon + 1)];
      remote = remote.slice(0, colon);
    }
    const opts = pullOptions(o);
    const repo = await openRepo(o);
    if (o.cacheDir) opts.cacheDir = o.cacheDir;
    if (o.localcacheRepo.length) opts.localCacheRepos = await Promise.all(o.localcacheRepo.map((p) => Repo.open(p)));
    const renderer: PullRenderer = o.jsonProgress
      ? jsonPullRenderer(process.stdout)
      : process.stderr.isTTY ? ttyPullRenderer(process.stderr, Date.now, wholeNumber(o.updateFrequency, '--update-frequency', 0) || 100) : plainPullRenderer(process.stderr);
    let result: PullResult;
    try {
      result = await pull(repo, remote, refs, { ...opts, onProgress: (e) => renderer.onEvent(e) });
    } catch (e) {
      renderer.finish(e);
      throw e;
    }
    renderer.finish();
    // With --json-progress, stdout carries only JSON lines; the done event holds the result.
    if (o.jsonProgress) return;
    if (o.json) return printDocument('PullResult', result);
    write(renderPull(result));
  },
});
