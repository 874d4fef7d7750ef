import type { Argv } from 'yargs';
import { encodeXattrs, parse, printValue, XATTRS_TYPE } from '../../format/index.js';
import { listTree, type LsEntry } from '../../repo/index.js';
import { openRepo, write, type GlobalArgs } from '../common.js';

export const command = 'ls <commit> [paths..]';
export const describe = 'List files in a commit';

export function builder(y: Argv): Argv {
  return y
    .positional('commit', { type: 'string', describe: 'Ref or checksum' })
    .positional('paths', { type: 'string', array: true, describe: 'Paths inside the commit (default /)' })
    .option('recursive', { alias: 'R', type: 'boolean', describe: 'List directories recursively' })
    .option('xattrs', { alias: 'X', type: 'boolean', describe: 'Show extended attributes' })
    .option('checksum', { alias: 'C', type: 'boolean', describe: 'Show object checksums' })
    .option('nul-filenames-only', { type: 'boolean', describe: 'Print only file names, NUL-separated' })
    .option('json', { type: 'boolean', describe: 'Print JSON lines, one entry each' });
}

export function renderEntry(e: LsEntry, opts: { xattrs?: boolean; checksum?: boolean }): string {
  let s = `${e.type}0${(e.mode & 0o7777).toString(8).padStart(4, '0')} ${e.uid} ${e.gid} ${String(e.size).padStart(6)} `;
  if (opts.checksum) s += e.type === 'd' ? `${e.checksum} ${e.metaChecksum} ` : `${e.checksum} `;
  if (opts.xattrs) s += `{ ${printValue(XATTRS_TYPE, parse(XATTRS_TYPE, encodeXattrs(e.xattrs)))} } `;
  s += e.path;
  if (e.type === 'l') s += ` -> ${e.target}`;
  return `${s}\n`;
}

export async function handler(argv: GlobalArgs & {
  commit: string; paths?: string[]; recursive?: boolean; xattrs?: boolean; checksum?: boolean; nulFilenamesOnly?: boolean; json?: boolean;
}): Promise<void> {
  const repo = await openRepo(argv);
  for await (const e of listTree(repo, argv.commit, argv.paths ?? [], { recursive: argv.recursive })) {
    if (argv.nulFilenamesOnly) write(`${e.path}\0`);
    else if (argv.json) {
      write(`${JSON.stringify({ ...e, mode: e.mode & 0o7777, xattrs: e.xattrs.map((x) => ({ name: x.name, value: Buffer.from(x.value).toString('base64') })) })}\n`);
    } else write(renderEntry(e, argv));
  }
}
