import type { Argv } from 'yargs';
import { Repo, parseMode, REPO_MODES } from '../../repo/index.js';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { last, type GlobalArgs } from '../common.js';

export const command = 'init';
export const describe = 'Initialize a new empty repository';

export function builder(y: Argv): Argv {
  return y
    .option('mode', { type: 'string', default: 'bare', describe: `Repository mode: ${REPO_MODES.join(', ')} (archive-z2 is accepted for archive)` })
    .option('collection-id', { type: 'string', describe: 'Globally unique ID for this repository as a collection of refs (reverse DNS)' })
    .example('$0 init --repo=repo --mode=archive', 'A repository to publish over HTTP')
    .example('$0 init --repo=repo --mode=bare-user', 'A repository for unprivileged checkouts by hardlink');
}

export async function handler(argv: GlobalArgs & { mode: string | string[]; collectionId?: string }): Promise<void> {
  const repoPath = argv.repo ?? process.env.OSTREE_REPO;
  if (!repoPath) throw new OstreeTsError(Codes.USAGE, 'Give the repository path with --repo=PATH.');
  await Repo.init(repoPath, parseMode(last(argv.mode) ?? 'bare'), { collectionId: argv.collectionId });
}
