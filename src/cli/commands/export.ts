import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { compressionForName, openOutput, type Compression } from '../../io/index.js';
import { exportTree } from '../../repo/index.js';
import { last, openRepo, write, type GlobalArgs } from '../common.js';
import { formatBytes, progressLine } from '../progress.js';

export const command = 'export <commit>';
export const describe = 'Write a commit as a tar archive (tar, tar.gz or tar.zst)';

export function builder(y: Argv): Argv {
  return y
    .positional('commit', { type: 'string', describe: 'Ref or checksum' })
    .option('output', { alias: 'o', type: 'string', describe: 'Archive to write; .tar.gz/.tgz and .tar.zst/.tzst are compressed (default: stdout)' })
    .option('compression', { type: 'string', choices: ['none', 'gzip', 'zstd'], describe: 'Override the compression the output name implies' })
    .option('level', { type: 'number', describe: 'Compression level (gzip 1-9, zstd 1-19)' })
    .option('subpath', { type: 'string', describe: 'Export only this directory of the commit' })
    .option('prefix', { type: 'string', describe: 'Add PATH in front of every name in the archive (include the trailing /)' })
    .option('no-xattrs', { type: 'boolean', describe: 'Leave out extended attributes' })
    .example('$0 --repo=repo export os/x86_64 -o rootfs.tar.zst', 'A zstd-compressed tarball of a branch')
    .example('$0 --repo=repo commit -b copy --tree=tar=rootfs.tar.zst', 'Import it again: the tree has the same checksum');
}

export async function handler(argv: GlobalArgs & {
  commit: string; output?: string | string[]; compression?: string; level?: number | number[];
  subpath?: string | string[]; prefix?: string | string[]; noXattrs?: boolean;
}): Promise<void> {
  const repo = await openRepo(argv);
  const output = last(argv.output);
  const compression = (argv.compression as Compression | undefined) ?? (output ? compressionForName(output) : 'none');
  if (!output && process.stdout.isTTY) {
    throw new OstreeTsError(Codes.USAGE, 'Refusing to write a tar archive to a terminal. Pass -o FILE, or redirect stdout.');
  }
  const levelArg = last(argv.level);
  const sink = await openOutput(output ?? null, compression, levelArg === undefined ? undefined : Number(levelArg));
  const progress = output ? progressLine() : null;
  try {
    const stats = await exportTree(repo, argv.commit, sink, {
      subpath: last(argv.subpath),
      prefix: last(argv.prefix),
      noXattrs: argv.noXattrs,
      onProgress: (e) => progress?.update(`Exporting: ${e.filesDone} files, ${formatBytes(e.bytesDone)}`),
    });
    await sink.finish();
    progress?.done();
    if (output) write(`Exported ${stats.checksum}: ${stats.files} files, ${stats.directories} directories, ${formatBytes(stats.bytes)} to ${output}\n`);
  } catch (e) {
    await sink.abort();
    throw e;
  }
}
