import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { listRefs, resolveRev, writeRef, readRef } from '../../repo/index.js';
import { asList, last, openRepo, write, type GlobalArgs } from '../common.js';

export const command = 'refs [prefix..]';
export const describe = 'List, create or delete refs';

export function builder(y: Argv): Argv {
  return y
    .positional('prefix', { type: 'string', array: true, describe: 'Only refs starting with this (a remote name lists its refs); with --delete, the refs to delete' })
    .option('create', { type: 'string', describe: 'Create ref NAME pointing at the commit given as the argument' })
    .option('delete', { type: 'boolean', describe: 'Delete the refs given as arguments' })
    .option('list', { type: 'boolean', describe: 'Also list the checksum of each ref' })
    .option('json', { type: 'boolean', describe: 'Print a JSON document' })
    .example('$0 --repo=repo refs --create=stable os/x86_64', 'Point "stable" at the commit of os/x86_64');
}

export async function handler(argv: GlobalArgs & { prefix?: string[]; create?: string | string[]; delete?: boolean; list?: boolean; json?: boolean }): Promise<void> {
  const repo = await openRepo(argv);
  const args = asList(argv.prefix);
  const create = last(argv.create);
  if (create !== undefined && create.trim() === '') throw new OstreeTsError(Codes.INVALID_REF, 'Invalid refspec: --create needs a ref name (--create=NAME COMMIT).', { ref: create });
  if (create) {
    if (args.length !== 1) throw new OstreeTsError(Codes.USAGE, '--create=NAME needs exactly one commit argument.');
    if (await readRef(repo, create)) throw new OstreeTsError(Codes.EXISTS, `Ref '${create}' already exists. Delete it first with --delete.`, { ref: create });
    const target = (await resolveRev(repo, args[0])) as string;
    await repo.loadCommit(target);
    await writeRef(repo, create, target);
    return;
  }
  if (argv.delete) {
    if (args.length === 0) throw new OstreeTsError(Codes.USAGE, 'Give the refs to delete.');
    for (const a of args) {
      const matches = (await listRefs(repo)).filter((r) => r.refspec === a || r.refspec.startsWith(`${a}/`) || (r.remote === a));
      if (matches.length === 0) throw new OstreeTsError(Codes.REF_NOT_FOUND, `Ref '${a}' not found.`, { ref: a });
      for (const m of matches) await writeRef(repo, m.refspec, null);
    }
    return;
  }
  // A ref file holding garbage is named and skipped; the others are still listed.
  let refs = await listRefs(repo, { onInvalid: (e) => process.stderr.write(`warning: skipping it: ${e.message}\n`) });
  // Like ostree: with a prefix, list the refs below it, named relative to it.
  const prefix = args[0]?.replace(/\/$/, '');
  const shown = (r: (typeof refs)[number]): string => (prefix && !argv.list ? r.refspec.slice(prefix.length + 1) : r.refspec);
  if (prefix) refs = refs.filter((r) => r.refspec.startsWith(`${prefix}/`) || (r.remote !== null && r.remote === prefix.replace(/:$/, '')));
  if (argv.json) {
    write(`${JSON.stringify({ apiVersion: 'ostree-ts/v1', kind: 'RefList', refs: refs.map((r) => ({ name: r.refspec, remote: r.remote, ref: r.ref, checksum: r.checksum })) }, null, 2)}\n`);
    return;
  }
  for (const r of refs) write(argv.list ? `${r.refspec} ${r.checksum}\n` : `${shown(r)}\n`);
}
