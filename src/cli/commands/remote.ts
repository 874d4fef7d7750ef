import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { formatGlibDateTime, isValidRemoteName } from '../../format/index.js';
import { ED25519_METADATA_KEY, GPG_METADATA_KEY, signaturesIn } from '../../sign/index.js';
import { addRemote, deleteRemote, fetchRemoteSummary, remoteSection, type RemoteSummary } from '../../transport/index.js';
import { summaryView } from '../../repo/index.js';
import { asList, openRepo, write, type GlobalArgs } from '../common.js';
import { forLocale } from '../locale.js';
import { renderSummary, renderSummaryRaw } from '../summary-view.js';

export const command = 'remote <action> [name] [url] [branches..]';
export const describe = "Add, delete, list or show remotes (and their signature policy); list a remote's refs or show its summary";

export function builder(y: Argv): Argv {
  return y
    .positional('action', { type: 'string', choices: ['add', 'delete', 'list', 'show-url', 'refs', 'summary'], describe: 'What to do' })
    .positional('name', { type: 'string', describe: 'Remote name' })
    .positional('url', { type: 'string', describe: 'With add: the repository URL (http://, https://, file://)' })
    .positional('branches', { type: 'string', describe: 'With add: default branches to pull' })
    .option('set', { type: 'string', describe: 'With add: KEY=VALUE in the remote\'s config (gpg-verify, sign-verify, verification-ed25519-file, ...)' })
    .option('no-gpg-verify', { type: 'boolean', describe: 'With add: gpg-verify=false' })
    .option('gpg-import', { type: 'string', describe: 'With add: trust the OpenPGP public keys in FILE (written to NAME.trustedkeys.gpg)' })
    .option('if-not-exists', { type: 'boolean', describe: 'With add: do nothing if the remote exists' })
    .option('if-exists', { type: 'boolean', describe: 'With delete: do nothing if the remote does not exist' })
    .option('revision', { alias: 'r', type: 'boolean', describe: 'With refs: show the commit each ref points at' })
    .option('raw', { type: 'boolean', describe: 'With summary: print the whole summary as GVariant text' })
    .option('json', { type: 'boolean', describe: 'With refs or summary: print a JSON document' })
    .example('$0 --repo=repo remote refs --revision origin', "The remote's refs, from its summary (signature checked as the remote's policy asks)")
    .example('$0 --repo=repo remote add --set=sign-verify=true --set=verification-ed25519-file=keys/public.ed25519 origin https://updates.example.org/repo os/x86_64', 'A remote whose commits must carry an ed25519 signature');
}

interface RemoteArgs extends GlobalArgs {
  action: string; name?: string; url?: string; branches?: string[];
  set?: string[]; noGpgVerify?: boolean; gpgImport?: string | string[]; ifNotExists?: boolean; ifExists?: boolean;
  revision?: boolean; raw?: boolean; json?: boolean;
}

export async function handler(argv: RemoteArgs): Promise<void> {
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
  const settings: Record<string, string> = {};
  for (const kv of asList(argv.set)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new OstreeTsError(Codes.USAGE, `--set needs KEY=VALUE, got '${kv}'.`, { value: kv });
    settings[kv.slice(0, i)] = kv.slice(i + 1);
  }
  try {
    await addRemote(repo, name, argv.url, {
      branches: asList(argv.branches), noGpgVerify: argv.noGpgVerify, settings, gpgImport: asList(argv.gpgImport).pop(), ifNotExists: argv.ifNotExists,
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
    write(`${JSON.stringify({
      apiVersion: 'ostree-ts/v1', kind: 'RemoteRefs', remote, url: fetched.url, verified: fetched.verified.checked,
      refs: refs.map((r) => ({ ref: r.name, checksum: r.checksum })),
    }, null, 2)}\n`);
    return;
  }
  write(refs.map((r) => (argv.revision ? `${remote}:${r.name}\t${r.checksum}\n` : `${remote}:${r.name}\n`)).join(''));
}

/** `remote summary`: the summary as `summary --view` shows it, then what verified it. */
function showSummary(fetched: RemoteSummary, argv: RemoteArgs): void {
  if (argv.json) {
    write(`${JSON.stringify({ ...summaryView(fetched.summary), remote: fetched.remote, url: fetched.url, verified: fetched.verified }, null, 2)}\n`);
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
