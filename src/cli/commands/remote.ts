import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { isValidRemoteName } from '../../format/index.js';
import { atomicWriteFile, fsp, path } from '../../io/index.js';
import { loadPublicKeys } from '../../sign/index.js';
import { asList, openRepo, write, type GlobalArgs } from '../common.js';

export const command = 'remote <action> [name] [url] [branches..]';
export const describe = 'Add, delete, list or show remotes (and their signature policy)';

export function builder(y: Argv): Argv {
  return y
    .positional('action', { type: 'string', choices: ['add', 'delete', 'list', 'show-url'], describe: 'What to do' })
    .positional('name', { type: 'string', describe: 'Remote name' })
    .positional('url', { type: 'string', describe: 'With add: the repository URL (http://, https://, file://)' })
    .positional('branches', { type: 'string', describe: 'With add: default branches to pull' })
    .option('set', { type: 'string', describe: 'With add: KEY=VALUE in the remote\'s config (gpg-verify, sign-verify, verification-ed25519-file, ...)' })
    .option('no-gpg-verify', { type: 'boolean', describe: 'With add: gpg-verify=false' })
    .option('gpg-import', { type: 'string', describe: 'With add: trust the OpenPGP public keys in FILE (written to NAME.trustedkeys.gpg)' })
    .option('if-not-exists', { type: 'boolean', describe: 'With add: do nothing if the remote exists' })
    .option('if-exists', { type: 'boolean', describe: 'With delete: do nothing if the remote does not exist' })
    .example('$0 --repo=repo remote add --set=sign-verify=true --set=verification-ed25519-file=keys/public.ed25519 origin https://updates.example.org/repo os/x86_64', 'A remote whose commits must carry an ed25519 signature');
}

interface RemoteArgs extends GlobalArgs {
  action: string; name?: string; url?: string; branches?: string[];
  set?: string[]; noGpgVerify?: boolean; gpgImport?: string | string[]; ifNotExists?: boolean; ifExists?: boolean;
}

export async function handler(argv: RemoteArgs): Promise<void> {
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
  const branches = asList(argv.branches);
  if (branches.length) repo.config.set(section(name), 'branches', `${branches.join(';')};`);
  if (argv.noGpgVerify) repo.config.set(section(name), 'gpg-verify', 'false');
  for (const kv of asList(argv.set)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new OstreeTsError(Codes.USAGE, `--set needs KEY=VALUE, got '${kv}'.`, { value: kv });
    repo.config.set(section(name), kv.slice(0, i), kv.slice(i + 1));
  }
  const gpgImport = asList(argv.gpgImport).pop();
  if (gpgImport) {
    // Stored as a binary keyring, the form libostree reads.
    const keys = await loadPublicKeys([gpgImport]);
    const binary = Buffer.concat(keys.map((k) => Buffer.from(k.toPublic().write())));
    await atomicWriteFile(path.join(repo.path, `${name}.trustedkeys.gpg`), binary);
  }
  await repo.saveConfig();
}
