import { Codes, OstreeTsError } from '../../errors/index.js';
import { compressionForName, openOutput, type Compression } from '../../io/compress.js';
import { exportTree } from '../../repo/export.js';
import { openRepo, verb, write } from '../common.js';
import { arg, flag, num, str } from '../options.js';
import { formatBytes, progressLine } from '../progress.js';

export default verb({
  positionals: { commit: arg('Ref or checksum') },
  options: {
    output: str('Archive to write; .tar.gz/.tgz and .tar.zst/.tzst are compressed (default: stdout)', { alias: 'o' }),
    compression: str('Override the compression the output name implies', { choices: ['none', 'gzip', 'zstd'] }),
    level: num('Compression level (gzip 1-9, zstd 1-19)'),
    subpath: str('Export only this directory of the commit'),
    prefix: str('Add PATH in front of every name in the archive (include the trailing /)'),
    'no-xattrs': flag('Leave out extended attributes'),
  },
  examples: [
    ['$0 --repo=repo export os/x86_64 -o rootfs.tar.zst', 'A zstd-compressed tarball of a branch'],
    ['$0 --repo=repo commit -b copy --tree=tar=rootfs.tar.zst', 'Import it again: the tree has the same checksum'],
  ],
  async run(o) {
    const repo = await openRepo(o);
    const output = o.output;
    const compression = (o.compression as Compression | undefined) ?? (output ? compressionForName(output) : 'none');
    if (!output && process.stdout.isTTY) {
      throw new OstreeTsError(Codes.USAGE, 'Refusing to write a tar archive to a terminal. Pass -o FILE, or redirect stdout.');
    }
    const sink = await openOutput(output ?? process.stdout, compression, o.level);
    const progress = output ? progressLine() : null;
    try {
      const stats = await exportTree(repo, o.commit, sink, {
        subpath: o.subpath,
        prefix: o.prefix,
        noXattrs: o.noXattrs,
        onProgress: (e) => progress?.update(`Exporting: ${e.filesDone} files, ${formatBytes(e.bytesDone)}`),
      });
      await sink.finish();
      progress?.done();
      if (output) write(`Exported ${stats.checksum}: ${stats.files} files, ${stats.directories} directories, ${formatBytes(stats.bytes)} to ${output}\n`);
    } catch (e) {
      await sink.abort();
      throw e;
    }
  },
});
