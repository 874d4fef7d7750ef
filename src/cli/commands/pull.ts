import type { Argv } from 'yargs';
import { pull } from '../../transport/index.js';
import { asList, openRepo, write, type GlobalArgs } from '../common.js';
import { formatBytes, progressLine } from '../progress.js';

export const command = 'pull <remote> [refs..]';
export const describe = 'Download commits (and what they need) from a remote, verified';

export function builder(y: Argv): Argv {
  return y
    .positional('remote', { type: 'string', describe: 'Remote name (ostree-ts remote add)' })
    .positional('refs', { type: 'string', describe: "Refs to pull (default: the remote's branches)" })
    .option('json', { type: 'boolean', describe: 'Print the result as JSON' })
    .option('object-batch', { type: 'number', describe: 'Objects made durable at a time (default 2000): what an interrupted pull keeps' })
    .example('$0 --repo=repo pull origin os/x86_64/stable', 'Fetch and verify the latest commit of a branch');
}

export async function handler(argv: GlobalArgs & { remote: string; refs?: string[]; json?: boolean; objectBatch?: number | number[] }): Promise<void> {
  const repo = await openRepo(argv);
  const progress = progressLine();
  const batch = asList(argv.objectBatch).pop();
  const result = await pull(repo, argv.remote, asList(argv.refs), {
    batch: batch === undefined ? undefined : Number(batch),
    onProgress: (e) => progress.update(`Receiving objects: ${e.fetched}/${e.needed} ${formatBytes(e.bytes)}`),
  });
  progress.done();
  if (argv.json) {
    write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  for (const r of result.refs) write(`${argv.remote}:${r.ref} ${r.checksum}\n`);
  write(`${result.fetched} objects fetched, ${formatBytes(result.bytes)} transferred\n`);
}
