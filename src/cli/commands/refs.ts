import { Codes, OstreeTsError } from '../../errors/index.js';
import { ghashOrder } from '../../format/ghash.js';
import { formatCollectionRef } from '../../format/refs.js';
import { listCollectionRefs, listRefAliases, listRefs, resolveRev, writeRef, writeRefAlias, readRef } from '../../repo/refs.js';
import { openRepo, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { args, flag, JSON_OPTION, str } from '../options.js';

export default verb({
  positionals: { prefix: args('Only refs starting with this (a remote name lists its refs); with --delete, the refs to delete') },
  options: {
    create: str('Create ref NAME pointing at the commit given as the argument'),
    delete: flag('Delete the refs given as arguments'),
    list: flag('With a prefix: print the refs whole, without removing the prefix'),
    alias: flag('With --create: make NAME an alias (a symlink) of the ref given; alone: list the aliases', { alias: 'A' }),
    force: flag('With --create: replace an existing ref'),
    collections: flag('List refs with their collection IDs, as (COLLECTION, REF) (refs of a repository with a collection ID, and mirrored refs)', { alias: 'c' }),
    json: JSON_OPTION,
  },
  examples: [['$0 --repo=repo refs --create=stable os/x86_64', 'Point "stable" at the commit of os/x86_64']],
  async run(o) {
    const repo = await openRepo(o);
    const names = o.prefix;
    if (o.create !== undefined && o.create.trim() === '') throw new OstreeTsError(Codes.INVALID_REF, 'Invalid refspec: --create needs a ref name (--create=NAME COMMIT).', { ref: o.create });
    if (o.create) {
      if (names.length !== 1) throw new OstreeTsError(Codes.USAGE, '--create=NAME needs exactly one commit argument.');
      if (o.alias) {
        // As ostree: an alias replaces whatever had the name.
        await writeRefAlias(repo, o.create, names[0]);
        return;
      }
      if (!o.force && await readRef(repo, o.create)) throw new OstreeTsError(Codes.EXISTS, `--create specified but ref ${o.create} already exists; add --force to replace it, or delete it first with --delete.`, { ref: o.create });
      const target = (await resolveRev(repo, names[0])) as string;
      await repo.loadCommit(target);
      await writeRef(repo, o.create, target);
      return;
    }
    if (o.delete) {
      if (names.length === 0) throw new OstreeTsError(Codes.USAGE, 'Give the refs to delete.');
      for (const a of names) {
        const matches = (await listRefs(repo)).filter((r) => r.refspec === a || r.refspec.startsWith(`${a}/`) || (r.remote === a));
        if (matches.length === 0) throw new OstreeTsError(Codes.REF_NOT_FOUND, `Ref '${a}' not found.`, { ref: a });
        for (const m of matches) await writeRef(repo, m.refspec, null);
      }
      return;
    }
    if (o.alias) {
      const aliases = new Map((await listRefAliases(repo)).map((a) => [a.ref, a.target]));
      for (const name of ghashOrder([...aliases.keys()])) write(`${name} -> ${aliases.get(name)}\n`);
      return;
    }
    if (o.collections) {
      const lines = (await listCollectionRefs(repo)).map((c) => ({ key: `${c.collection}\0${c.ref}`, text: formatCollectionRef(c) }));
      for (const l of lines.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) write(`${l.text}\n`);
      return;
    }
    // A ref file holding garbage is named and skipped; the others are still listed.
    let refs = await listRefs(repo, { onInvalid: (e) => process.stderr.write(`warning: skipping it: ${e.message}\n`) });
    // Like ostree: with a prefix, list the refs below it, named relative to it.
    const prefix = names[0]?.replace(/\/$/, '');
    const shown = (r: (typeof refs)[number]): string => (prefix && !o.list ? r.refspec.slice(prefix.length + 1) : r.refspec);
    if (prefix) refs = refs.filter((r) => r.refspec.startsWith(`${prefix}/`) || (r.remote !== null && r.remote === prefix.replace(/:$/, '')));
    if (o.json) return printDocument('RefList', { refs: refs.map((r) => ({ name: r.refspec, remote: r.remote, ref: r.ref, checksum: r.checksum })) });
    // ostree lists them in its hash table's order.
    for (const name of ghashOrder(refs.map(shown))) write(`${name}\n`);
  },
});
