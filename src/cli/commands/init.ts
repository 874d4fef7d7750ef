import { Codes, OstreeTsError } from '../../errors/index.js';
import { Repo, parseMode, REPO_MODES } from '../../repo/repo.js';
import { verb } from '../common.js';
import { str } from '../options.js';

export default verb({
  options: {
    mode: str(`Repository mode: ${REPO_MODES.join(', ')} (archive-z2 is accepted for archive)`, { default: 'bare' }),
    'collection-id': str('Globally unique ID for this repository as a collection of refs (reverse DNS)'),
  },
  examples: [
    ['$0 init --repo=repo --mode=archive', 'A repository to publish over HTTP'],
    ['$0 init --repo=repo --mode=bare-user', 'A repository for unprivileged checkouts by hardlink'],
  ],
  async run(o) {
    const repoPath = o.repo ?? process.env.OSTREE_REPO;
    if (!repoPath) throw new OstreeTsError(Codes.USAGE, 'Give the repository path with --repo=PATH.');
    await Repo.init(repoPath, parseMode(o.mode), { collectionId: o.collectionId });
  },
});
