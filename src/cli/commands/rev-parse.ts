import { Codes, OstreeTsError } from '../../errors/index.js';
import { resolveRev } from '../../repo/refs.js';
import { openRepo, verb, write } from '../common.js';
import { flag, optionalArg } from '../options.js';

export default verb({
  positionals: { rev: optionalArg('Ref, REMOTE:REF, checksum or prefix, optionally with ^ suffixes') },
  options: {
    single: flag('Print the one commit of a repository that holds exactly one; anything else is an error', { alias: 'S' }),
  },
  async run(o) {
    if (o.rev === undefined && !o.single) throw new OstreeTsError(Codes.USAGE, 'A rev must be specified (a ref, REMOTE:REF or checksum), or --single.');
    const repo = await openRepo(o);
    if (o.single) {
      if (o.rev !== undefined) throw new OstreeTsError(Codes.USAGE, 'Cannot specify arguments with --single: it prints the only commit of the repository.');
      const commits: string[] = [];
      for await (const obj of repo.listObjects()) {
        if (obj.type !== 'commit') continue;
        commits.push(obj.checksum);
        if (commits.length > 1) throw new OstreeTsError(Codes.USAGE, `Multiple commit objects found in ${repo.path}: --single needs a repository with exactly one; name the rev instead.`);
      }
      if (commits.length === 0) throw new OstreeTsError(Codes.NOT_FOUND, `No commit objects found in ${repo.path}.`);
      write(`${commits[0]}\n`);
      return;
    }
    write(`${await resolveRev(repo, o.rev as string)}\n`);
  },
});
