import { Codes, OstreeTsError } from '../../errors/index.js';
import { isValidRemoteName } from '../../format/index.js';
import { atomicWriteFile, fsp, path } from '../../io/index.js';
import { ED25519_METADATA_KEY, GPG_METADATA_KEY, loadPublicKeys, signaturesIn } from '../../sign/index.js';
import { fetchRemoteSummary, type RemoteSummary } from '../../transport/index.js';
import { summaryView } from '../../repo/index.js';
import { openRepo, verb, write, type GlobalArgs } from '../common.js';
import { printDocument } from '../output.js';
import { arg, args, flag, JSON_OPTION, list, optionalArg, str, type Parsed } from '../options.js';
import { renderSummary, renderSummaryRaw } from '../summary-view.js';

const POSITIONALS = {
  action: arg('What to do', { choices: ['add', 'delete', 'list', 'show-url', 'refs', 'summary'] }),
  name: optionalArg('Remote name'),
  url: optionalArg('With add: the repository URL (http://, https://, file://)'),
  branches: args('With add: default branches to pull'),
};

const OPTIONS = {
  set: list('With add: KEY=VALUE in the remote\'s config (gpg-verify, sign-verify, verification-ed25519-file, ...)'),
  'no-gpg-verify': flag('With add: gpg-verify=false'),
  'gpg-import': str('With add: trust the OpenPGP public keys in FILE (written to NAME.trustedkeys.gpg)'),
  'if-not-exists': flag('With add: do nothing if the remote exists'),
  'if-exists': flag('With delete: do nothing if the remote does not exist'),
  revision: flag('With refs: show the commit each ref points at', { alias: 'r' }),
  raw: flag('With summary: print the whole summary as GVariant text'),
  json: JSON_OPTION,
};

type RemoteArgs = GlobalArgs & Parsed<typeof POSITIONALS> & Parsed<typeof OPTIONS>;

async function handler(argv: RemoteArgs): Promise<void> {
  const repo = await openRepo(argv);
  const section = (n: string): string => `remote "${n}"`;
  if (argv.action === 'list') {
    for (const g of repo.config.groups) {
      const m = /^remote "(.+)"$/.exec(g.name);
      if (m) write(`${m[1]}\n`);
    }
    return;
  }
  const name = argv.name;
  if (!name) throw new OstreeTsError(Codes.USAGE, `remote ${argv.action} needs a NAME.`);
  if (!isValidRemoteName(name)) throw new OstreeTsError(Codes.USAGE, `Invalid remote name '${name}': use letters, digits, '-', '_' and '.', not starting with '.' or '-'.`, { remote: name });
  if (argv.action === 'refs' || argv.action === 'summary') {
    const fetched = await fetchRemoteSummary(repo, name);
    if (argv.action === 'refs') showRefs(name, fetched, argv);
    else showSummary(fetched, argv);
    return;
  }
  if (argv.action === 'show-url') {
    const url = repo.config.get(section(name), 'url');
    if (!url) throw new OstreeTsError(Codes.NOT_FOUND, `No remote '${name}'.`, { remote: name });
    write(`${url}\n`);
    return;
  }
  if (argv.action === 'delete') {
    if (!repo.config.group(section(name))) {
      if (argv.ifExists) return;
      throw new OstreeTsError(Codes.NOT_FOUND, `No remote '${name}'.`, { remote: name });
    }
    repo.config.remove(section(name));
    await repo.saveConfig();
    await fsp.rm(path.join(repo.path, `${name}.trustedkeys.gpg`), { force: true });
    return;
  }
  if (!argv.url) throw new OstreeTsError(Codes.USAGE, 'remote add needs NAME and URL.');
  if (repo.config.group(section(name))) {
    if (argv.ifNotExists) return;
    throw new OstreeTsError(Codes.EXISTS, `Remote '${name}' already exists. Delete it first, or pass --if-not-exists.`, { remote: name });
  }
  repo.config.set(section(name), 'url', argv.url);
  const branches = argv.branches;
  if (branches.length) repo.config.set(section(name), 'branches', `${branches.join(';')};`);
  if (argv.noGpgVerify) repo.config.set(section(name), 'gpg-verify', 'false');
  for (const kv of argv.set) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new OstreeTsError(Codes.USAGE, `--set needs KEY=VALUE, got '${kv}'.`, { value: kv });
    repo.config.set(section(name), kv.slice(0, i), kv.slice(i + 1));
  }
  const gpgImport = argv.gpgImport;
  if (gpgImport) {
    // Stored as a binary keyring, the form libostree reads.
    const keys = await loadPublicKeys([gpgImport]);
    const binary = Buffer.concat(keys.map((k) => Buffer.from(k.toPublic().write())));
    await atomicWriteFile(path.join(repo.path, `${name}.trustedkeys.gpg`), binary);
  }
  await repo.saveConfig();
}

/** `remote refs`: REMOTE:REF lines in strcmp order, as ostree prints them. */
function showRefs(remote: string, fetched: RemoteSummary, argv: RemoteArgs): void {
  const refs = [...fetched.summary.refs].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  if (argv.json) {
    printDocument('RemoteRefs', {
      remote, url: fetched.url, verified: fetched.verified.checked, refs: refs.map((r) => ({ ref: r.name, checksum: r.checksum })),
    });
    return;
  }
  write(refs.map((r) => (argv.revision ? `${remote}:${r.name}\t${r.checksum}\n` : `${remote}:${r.name}\n`)).join(''));
}

/** `remote summary`: the summary as `summary --view` shows it, then what verified it. */
function showSummary(fetched: RemoteSummary, argv: RemoteArgs): void {
  if (argv.json) {
    printDocument('Summary', { ...summaryView(fetched.summary), remote: fetched.remote, url: fetched.url, verified: fetched.verified });
    return;
  }
  if (argv.raw) {
    write(renderSummaryRaw(fetched.bytes));
    return;
  }
  write(renderSummary(fetched.summary));
  const v = fetched.verified;
  if (v.gpg) {
    const n = signaturesIn(fetched.signatures, GPG_METADATA_KEY).length;
    write(`\nGPG: Verification enabled, found ${n} signature${n === 1 ? '' : 's'}:\n\n`);
    const made = v.gpg.created === undefined ? '' : `made ${formatCDate(v.gpg.created)} `;
    write(`  Signature ${made}using ${v.gpg.algorithm ?? 'a'} key ID ${v.gpg.keyId.toUpperCase()}\n`);
    write(`  Good signature from ${v.gpg.userIds.map((u) => `"${u}"`).join(', ') || 'a key with no user ID'}\n`);
  }
  if (v.ed25519) {
    const n = signaturesIn(fetched.signatures, ED25519_METADATA_KEY).length;
    write(`\ned25519: Verification enabled, found ${n} signature${n === 1 ? '' : 's'}:\n\n  Good signature from key ${v.ed25519}\n`);
  }
}

export default verb({
  positionals: POSITIONALS,
  options: OPTIONS,
  examples: [
    ['$0 --repo=repo remote refs --revision origin', "The remote's refs, from its summary (signature checked as the remote's policy asks)"],
    ['$0 --repo=repo remote add --set=sign-verify=true --set=verification-ed25519-file=keys/public.ed25519 origin https://updates.example.org/repo os/x86_64', 'A remote whose commits must carry an ed25519 signature'],
  ],
  run: handler,
});

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Local time as GLib's %c writes it in the C locale: `Sun Nov \u20072 07:46:48 2026`
 * (a one-digit day is padded with a figure space, U+2007, as GLib's %e does).
 */
function formatCDate(secs: number): string {
  const d = new Date(secs * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, '\u2007')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getFullYear()}`;
}
