import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { byteswapValue, printValue, type VarDict } from '../../format/index.js';
import { resolveRev } from '../../repo/index.js';
import { last, openRepo, write, type GlobalArgs } from '../common.js';
import { commitDocument, renderCommit } from './log.js';

export const command = 'show <object>';
export const describe = 'Output a commit, or one of its metadata values';

export function builder(y: Argv): Argv {
  return y
    .positional('object', { type: 'string', describe: 'Ref or commit checksum' })
    .option('print-metadata-key', { type: 'string', describe: 'Print the value of commit metadata KEY (GVariant text)' })
    .option('print-detached-metadata-key', { type: 'string', describe: 'Print the value of detached metadata KEY' })
    .option('no-byteswap', { alias: 'B', type: 'boolean', describe: 'Do not convert values from big endian (as ostree does by default)' })
    .option('json', { type: 'boolean', describe: 'Print a JSON document' })
    .example("$0 --repo=repo show os --print-metadata-key=version", "Prints e.g. '1.2.3'");
}

function printKey(dict: VarDict | null, key: string, swap: boolean, what: string): string {
  const entry = dict?.find(([k]) => k === key);
  if (!entry) throw new OstreeTsError(Codes.NOT_FOUND, `No such ${what} key '${key}'`, { key });
  const v = entry[1];
  const value = swap ? byteswapValue(v.type, v.value) : v.value;
  return `${printValue(v.type, value)}\n`;
}

export async function handler(argv: GlobalArgs & {
  object: string; printMetadataKey?: string | string[]; printDetachedMetadataKey?: string | string[]; noByteswap?: boolean; json?: boolean;
}): Promise<void> {
  const repo = await openRepo(argv);
  const checksum = (await resolveRev(repo, argv.object)) as string;
  const commit = await repo.loadCommit(checksum);
  // ostree byteswaps printed values on little-endian hosts unless -B is given.
  const swap = !argv.noByteswap;
  const key = last(argv.printMetadataKey);
  if (key !== undefined) {
    write(printKey(commit.metadata, key, swap, 'metadata'));
    return;
  }
  const dkey = last(argv.printDetachedMetadataKey);
  if (dkey !== undefined) {
    write(printKey(await repo.loadCommitMeta(checksum), dkey, swap, 'detached metadata'));
    return;
  }
  if (argv.json) {
    write(`${JSON.stringify({ apiVersion: 'ostree-ts/v1', kind: 'Commit', ...commitDocument(checksum, commit) }, null, 2)}\n`);
    return;
  }
  write(renderCommit(checksum, commit));
}
