import { Codes, OstreeTsError } from '../../errors/index.js';
import { formatGlibDateTime } from '../../format/glib-date.js';
import { isValidRemoteName } from '../../format/refs.js';
import { ED25519_METADATA_KEY } from '../../sign/ed25519.js';
import { GPG_METADATA_KEY } from '../../sign/gpg.js';
import { signaturesIn } from '../../sign/signatures.js';
import { fetchRemoteSummary, type RemoteSummary } from '../../transport/remote-summary.js';
import { addRemote, deleteRemote, remoteSection } from '../../transport/remotes.js';
import { summaryView } from '../../repo/summary.js';
import { openRepo, verb, write, type GlobalArgs } from '../common.js';
import { printDocument } from '../output.js';
import { arg, args, flag, JSON_OPTION, keyValues, list, optionalArg, str, type Parsed } from '../options.js';
import { forLocale } from '../locale.js';
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
    const url = repo.config.get(remoteSection(name), 'url');
    if (!url) throw new OstreeTsError(Codes.NOT_FOUND, `No remote '${name}'.`, { remote: name });
    write(`${url}\n`);
    return;
  }
  if (argv.action === 'delete') {
    if (!(await deleteRemote(repo, name)) && !argv.ifExists) throw new OstreeTsError(Codes.NOT_FOUND, `No remote '${name}'.`, { remote: name });
    return;
  }
  if (!argv.url) throw new OstreeTsError(Codes.USAGE, 'remote add needs NAME and URL.');
  const settings = keyValues(argv.set);
  try {
    await addRemote(repo, name, argv.url, {
      branches: argv.branches, noGpgVerify: argv.noGpgVerify, settings, gpgImport: argv.gpgImport, ifNotExists: argv.ifNotExists,
    });
  } catch (e) {
    if (e instanceof OstreeTsError && e.code === Codes.EXISTS) throw new OstreeTsError(Codes.EXISTS, `Remote '${name}' already exists. Delete it first, or pass --if-not-exists.`, { remote: name }, { cause: e });
    throw e;
  }
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
  let text = renderSummary(fetched.summary);
  const v = fetched.verified;
  if (v.gpg) {
    const n = signaturesIn(fetched.signatures, GPG_METADATA_KEY).length;
    text += `\nGPG: Verification enabled, found ${n} signature${n === 1 ? '' : 's'}:\n\n`;
    const made = v.gpg.created === undefined ? '' : `made ${formatGlibDateTime(v.gpg.created)} `;
    text += `  Signature ${made}using ${v.gpg.algorithm ?? 'a'} key ID ${v.gpg.keyId.toUpperCase()}\n`;
    text += `  Good signature from ${v.gpg.userIds.map((u) => `"${u}"`).join(', ') || 'a key with no user ID'}\n`;
  }
  if (v.ed25519) {
    const n = signaturesIn(fetched.signatures, ED25519_METADATA_KEY).length;
    text += `\ned25519: Verification enabled, found ${n} signature${n === 1 ? '' : 's'}:\n\n  Good signature from key ${v.ed25519}\n`;
  }
  write(forLocale(text, process.env));
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
