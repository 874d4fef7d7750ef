import { Codes, OstreeTsError } from '../../errors/index.js';
import { findRemotes, pullFoundError, pullFromFound, type FinderName } from '../../transport/find-remotes.js';
import { collectionRefPairs } from '../collection-args.js';
import { openRepo, verb, write } from '../common.js';
import { args, flag, str } from '../options.js';

const FINDERS: readonly FinderName[] = ['config', 'lan', 'mount'];

/** --finders: a comma-separated list of known finders, each once. */
function parseFinders(text: string): FinderName[] {
  const names = text.split(',');
  if (names.length === 1 && names[0] === '') throw new OstreeTsError(Codes.USAGE, 'List of finders in --finders option must not be empty.');
  const out: FinderName[] = [];
  for (const n of names) {
    if (!FINDERS.includes(n as FinderName) || out.includes(n as FinderName)) {
      throw new OstreeTsError(Codes.USAGE, `Unknown or duplicate finder type given in --finders option: ‘${n}’ (the finders are ${FINDERS.join(', ')}).`, { finder: n });
    }
    out.push(n as FinderName);
  }
  return out;
}

const isoUtc = (secs: number): string => new Date(secs * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

export default verb({
  positionals: {
    pairs: args('COLLECTION-ID REF pairs to find (COLLECTION-ID REF [COLLECTION-ID REF...])'),
  },
  options: {
    'cache-dir': str('Use custom cache dir (where summaries fetched from the repositories found are kept)'),
    'disable-fsync': flag('Do not invoke fsync() while pulling (fast; unsafe on power loss)'),
    finders: str('Use the specified comma separated list of finders (config: configured remotes with a collection ID; mount: repositories on mounted removable media; lan is not available)'),
    pull: flag('Pull the updates after finding them'),
    mirror: flag('Do a mirror pull (see ostree pull --mirror): write the refs as collection–refs (refs/mirrors/COLLECTION/REF)'),
  },
  examples: [
    ['$0 --repo=repo find-remotes org.example.Os os/x86_64/stable', 'Which remotes and mounted USB sticks offer the newest commit of a ref'],
    ['$0 --repo=repo find-remotes --finders=mount --pull org.example.Os os/x86_64/stable', 'Update from a USB stick, no network'],
  ],
  details: 'A remote qualifies when it has a collection-id; a repository on a mount (.ostree/repo, ostree/repo, .ostree/repos.d/*) when a remote here has the collection ID of the ref, whose GPG keys must have signed the commit. Only the newest commit of each ref (by its timestamp) is offered.',
  async run(o) {
    const wanted = collectionRefPairs(o.pairs);
    if (o.mirror && !o.pull) throw new OstreeTsError(Codes.USAGE, 'When --mirror is specified, --pull must also be.');
    const repo = await openRepo(o);
    if (o.disableFsync) repo.config.set('core', 'fsync', 'false');
    const debug = o.verbose ? (m: string): void => void process.stderr.write(`find-remotes: ${m}\n`) : undefined;
    const results = await findRemotes(repo, wanted, {
      finders: o.finders === undefined ? undefined : parseFinders(o.finders),
      onDebug: debug,
      cacheDir: o.cacheDir,
      onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
    });
    results.forEach((r, i) => {
      const refs = r.refs.map((x) => `    - (${x.collection}, ${x.ref}) = ${x.checksum ?? '(not found)'}\n`).join('');
      write(`Result ${i}: ${r.url}\n - Finder: ${r.finder === 'mount' ? 'OstreeRepoFinderMount' : 'OstreeRepoFinderConfig'}\n - Keyring: ${r.keyring}\n - Priority: ${r.priority}\n`
        + ` - Summary last modified: ${r.summaryLastModified > 0 ? isoUtc(r.summaryLastModified) : 'unknown'}\n - Refs:\n${refs}\n`);
    });
    if (!results.length) {
      write('No results.\n');
      return;
    }
    const found = wanted.filter((w) => results.some((r) => r.refs.some((x) => x.collection === w.collection && x.ref === w.ref && x.checksum)));
    write(`${found.length}/${wanted.length} refs were found.\n`);
    if (found.length !== wanted.length) {
      write('Refs not found in any remote:\n');
      for (const w of wanted) if (!found.includes(w)) write(` - (${w.collection}, ${w.ref})\n`);
    }
    if (!o.pull) return;
    const pulled = await pullFromFound(repo, results, { mirror: o.mirror, disableFsync: o.disableFsync, cacheDir: o.cacheDir, onDebug: debug ?? ((m) => void process.stderr.write(`warning: ${m}\n`)) });
    if (pulled.failed.length) throw pullFoundError(pulled.failed);
    write(`Pulled ${wanted.length}/${wanted.length} refs successfully.\n`);
  },
});
