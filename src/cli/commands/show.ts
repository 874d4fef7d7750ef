import { Codes, OstreeTsError } from '../../errors/index.js';
import { byteswapValue, printValue, type VarDict } from '../../format/index.js';
import { resolveRev } from '../../repo/index.js';
import { openRepo, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { arg, flag, JSON_OPTION, str } from '../options.js';
import { commitDocument, renderCommit } from './log.js';

function printKey(dict: VarDict | null, key: string, swap: boolean, what: string): string {
  const entry = dict?.find(([k]) => k === key);
  if (!entry) throw new OstreeTsError(Codes.NOT_FOUND, `No such ${what} key '${key}'`, { key });
  const v = entry[1];
  const value = swap ? byteswapValue(v.type, v.value) : v.value;
  return `${printValue(v.type, value)}\n`;
}

export default verb({
  positionals: { object: arg('Ref or commit checksum') },
  options: {
    'print-metadata-key': str('Print the value of commit metadata KEY (GVariant text)'),
    'print-detached-metadata-key': str('Print the value of detached metadata KEY'),
    'no-byteswap': flag('Do not convert values from big endian (as ostree does by default)', { alias: 'B' }),
    json: JSON_OPTION,
  },
  examples: [["$0 --repo=repo show os --print-metadata-key=version", "Prints e.g. '1.2.3'"]],
  async run(o) {
    const repo = await openRepo(o);
    const checksum = (await resolveRev(repo, o.object)) as string;
    const commit = await repo.loadCommit(checksum);
    // ostree byteswaps printed values on little-endian hosts unless -B is given.
    const swap = !o.noByteswap;
    if (o.printMetadataKey !== undefined) {
      write(printKey(commit.metadata, o.printMetadataKey, swap, 'metadata'));
      return;
    }
    if (o.printDetachedMetadataKey !== undefined) {
      write(printKey(await repo.loadCommitMeta(checksum), o.printDetachedMetadataKey, swap, 'detached metadata'));
      return;
    }
    if (o.json) return printDocument('Commit', commitDocument(checksum, commit));
    write(renderCommit(checksum, commit));
  },
});
