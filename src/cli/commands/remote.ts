import { Codes, OstreeTsError } from '../../errors/index.js';
import { formatGlibDateTime } from '../../format/glib-date.js';
import { isValidRemoteName, validateCollectionId } from '../../format/refs.js';
import { configuredRemotes } from '../../repo/refs.js';
import { ED25519_METADATA_KEY } from '../../sign/ed25519.js';
import { GPG_METADATA_KEY, describeGpgKey } from '../../sign/gpg.js';
import { signaturesIn } from '../../sign/signatures.js';
import { fetchRemoteSummary, type RemoteSummary } from '../../transport/remote-summary.js';
import { addRemote, deleteRemote, remoteSection, addRemoteCookie, deleteRemoteCookie, importRemoteKeys, remoteCookies, remoteKeyring } from '../../transport/remotes.js';
import { summaryView } from '../../repo/summary.js';
import { wkdUrls } from '../../format/wkd.js';
import { type Repo } from '../../repo/repo.js';
import { openRepo, verb, write, type GlobalArgs } from '../common.js';
import { printDocument } from '../output.js';
import { arg, args, flag, JSON_OPTION, keyValues, list, optionalArg, str, type Parsed } from '../options.js';
import { forLocale } from '../locale.js';
import { renderSummary, renderSummaryRaw } from '../summary-view.js';

const ACTIONS = ['add', 'delete', 'list', 'show-url', 'refs', 'summary', 'gpg-import', 'gpg-list-keys', 'add-cookie', 'delete-cookie', 'list-cookies'] as const;

const POSITIONALS = {
  action: arg('What to do', { choices: [...ACTIONS] }),
  name: optionalArg('Remote name'),
  rest: args('With add: URL (http://, https://, file://) and default branches; gpg-import: the KEY-IDs to import (all by default); add-cookie: DOMAIN PATH COOKIE_NAME VALUE; delete-cookie: DOMAIN PATH COOKIE_NAME'),
};

const OPTIONS = {
  set: list('With add: KEY=VALUE in the remote\'s config (gpg-verify, sign-verify, verification-ed25519-file, ...)'),
  'no-gpg-verify': flag('With add: gpg-verify=false'),
  'gpg-import': str('With add: trust the OpenPGP public keys in FILE (written to NAME.trustedkeys.gpg)'),
  keyring: list('With gpg-import: a file of OpenPGP keys to trust (armored or binary; repeatable)', { alias: 'k' }),
  stdin: flag('With gpg-import: read the keys from standard input'),
  'if-not-exists': flag('With add: do nothing if the remote exists'),
  force: flag('With add: replace the remote if it exists'),
  'collection-id': str('With add: the collection ID of the remote (reverse DNS): its commits must be bound to it, and find-remotes and create-usb find its refs by it'),
  'no-sign-verify': flag('With add: sign-verify=false'),
  'sign-verify': list('With add: verify ed25519 signatures with KEYTYPE=inline:PUBKEY or KEYTYPE=file:/path/to/key (KEYTYPE is ed25519)'),
  contenturl: str('With add: fetch content (objects and deltas) from this URL, metadata from the remote URL'),
  'custom-backend': str('With add: this remote has content not fetched via libostree (its name is recorded)'),
  'if-exists': flag('With delete: do nothing if the remote does not exist'),
  revision: flag('With refs: show the commit each ref points at', { alias: 'r' }),
  raw: flag('With summary: print the whole summary as GVariant text'),
  json: JSON_OPTION,
};

type RemoteArgs = GlobalArgs & Parsed<typeof POSITIONALS> & Parsed<typeof OPTIONS>;

async function handler(argv: RemoteArgs): Promise<void> {
  const repo = await openRepo(argv);
  if (argv.action === 'list') {
    for (const name of configuredRemotes(repo)) write(`${name}\n`);
    return;
  }
  const name = argv.name;
  if (!name && argv.action === 'gpg-list-keys') return;
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
  if (argv.action === 'gpg-import' || argv.action === 'gpg-list-keys') {
    await gpgKeys(repo, name, argv);
    return;
  }
  if (argv.action === 'add-cookie' || argv.action === 'delete-cookie' || argv.action === 'list-cookies') {
    await cookies(repo, name, argv);
    return;
  }
  if (argv.action === 'delete') {
    if (!(await deleteRemote(repo, name)) && !argv.ifExists) throw new OstreeTsError(Codes.NOT_FOUND, `No remote '${name}'.`, { remote: name });
    return;
  }
  const [url, ...branches] = argv.rest;
  if (!url) throw new OstreeTsError(Codes.USAGE, 'remote add needs NAME and URL.');
  const settings = keyValues(argv.set);
  if (argv.collectionId !== undefined) {
    validateCollectionId(argv.collectionId);
    settings['collection-id'] = argv.collectionId;
  }
  if (argv.noSignVerify) settings['sign-verify'] = 'false';
  for (const spec of argv.signVerify) {
    const m = /^([a-z0-9]+)=(inline|file):(.+)$/.exec(spec);
    if (!m) throw new OstreeTsError(Codes.USAGE, `--sign-verify=${spec}: use KEYTYPE=inline:PUBKEY or KEYTYPE=file:/path/to/key.`, { value: spec });
    if (m[1] !== 'ed25519') throw new OstreeTsError(Codes.USAGE, `--sign-verify=${spec}: the only signature type is ed25519.`, { value: spec });
    settings['sign-verify'] = 'true';
    settings[`verification-ed25519-${m[2] === 'inline' ? 'key' : 'file'}`] = m[3];
  }
  if (argv.contenturl !== undefined) settings.contenturl = argv.contenturl;
  if (argv.customBackend !== undefined) settings['custom-backend'] = argv.customBackend;
  if (argv.force) await deleteRemote(repo, name);
  try {
    await addRemote(repo, name, url, {
      branches, noGpgVerify: argv.noGpgVerify, settings, gpgImport: argv.gpgImport, ifNotExists: argv.ifNotExists,
    });
  } catch (e) {
    if (e instanceof OstreeTsError && e.code === Codes.EXISTS) throw new OstreeTsError(Codes.EXISTS, `Remote '${name}' already exists. Delete it first, or pass --if-not-exists.`, { remote: name }, { cause: e });
    throw e;
  }
}

/** `remote gpg-import` and `gpg-list-keys`: the OpenPGP keys trusted for the remote (NAME.trustedkeys.gpg). */
async function gpgKeys(repo: Repo, name: string, argv: RemoteArgs): Promise<void> {
  if (argv.action === 'gpg-import') {
    const stdin = argv.stdin ? await readStdin() : undefined;
    const n = await importRemoteKeys(repo, name, { files: argv.keyring ?? [], stdin, keyIds: argv.rest });
    write(`Imported ${n} GPG key${n === 1 ? '' : 's'} to remote "${name}"\n`);
    return;
  }
  const keys = await Promise.all((await remoteKeyring(repo, name)).map((k) => describeGpgKey(k)));
  if (argv.json) {
    printDocument('GpgKeys', { remote: name, keys: keys.map((k) => ({ ...k, userIds: k.userIds.map((u) => ({ ...u, ...(u.email ? wkdUrls(u.email) : {}) })) })) });
    return;
  }
  const now = repo.host.now() / 1000;
  const expiry = (secs: number): string => (secs <= now ? 'Expired' : 'Expires');
  let text = '';
  for (const k of keys) {
    text += `Key: ${k.fingerprint}\n  Created: ${formatGlibDateTime(k.created)}\n`;
    if (k.expires !== null) text += `  ${expiry(k.expires)}: ${formatGlibDateTime(k.expires)}\n`;
    for (const u of k.userIds) {
      const urls = u.email ? wkdUrls(u.email) : null;
      text += `  UID: ${u.userId}\n  Advanced update URL: ${urls?.advanced ?? ''}\n  Direct update URL: ${urls?.direct ?? ''}\n`;
    }
    for (const sk of k.subkeys) {
      text += `  Subkey: ${sk.fingerprint}\n    Created: ${formatGlibDateTime(sk.created)}\n`;
      if (sk.expires !== null) text += `    ${expiry(sk.expires)}: ${formatGlibDateTime(sk.expires)}\n`;
    }
  }
  write(forLocale(text, process.env));
}

/** `remote add-cookie`, `delete-cookie`, `list-cookies`: the remote's cookie jar (NAME.cookies.txt), sent with its requests. */
async function cookies(repo: Repo, name: string, argv: RemoteArgs): Promise<void> {
  const [domain, cookiePath, cookieName, value] = argv.rest;
  if (argv.action === 'add-cookie') {
    if (value === undefined || argv.rest.length !== 4) throw new OstreeTsError(Codes.USAGE, 'NAME, DOMAIN, PATH, COOKIE_NAME and VALUE must be specified.');
    await addRemoteCookie(repo, name, { domain, path: cookiePath, name: cookieName, value });
    return;
  }
  if (argv.action === 'delete-cookie') {
    if (cookieName === undefined || argv.rest.length !== 3) throw new OstreeTsError(Codes.USAGE, 'NAME, DOMAIN, PATH and COOKIE_NAME must be specified.');
    if (!(await deleteRemoteCookie(repo, name, { domain, path: cookiePath, name: cookieName }))) {
      throw new OstreeTsError(Codes.NOT_FOUND, 'Cookie not found in jar', { remote: name, domain, path: cookiePath, cookie: cookieName });
    }
    return;
  }
  const jar = await remoteCookies(repo, name);
  if (argv.json) {
    printDocument('Cookies', { remote: name, cookies: jar });
    return;
  }
  const two = (n: number): string => String(n).padStart(2, '0');
  const utc = (secs: number): string => {
    const d = new Date(secs * 1000);
    return `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
  };
  write(jar.map((c) => `--\nDomain: ${c.domain}\nPath: ${c.path}\nName: ${c.name}\nSecure: ${c.secure}\nExpires: ${utc(c.expires)}\nValue: ${c.value}\n`).join(''));
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
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
    ['$0 --repo=repo remote gpg-import -k keys/release.asc origin', "Trust the release key for origin's GPG signatures"],
    ['$0 --repo=repo remote add --set=sign-verify=true --set=verification-ed25519-file=keys/public.ed25519 origin https://updates.example.org/repo os/x86_64', 'A remote whose commits must carry an ed25519 signature'],
  ],
  run: handler,
});
