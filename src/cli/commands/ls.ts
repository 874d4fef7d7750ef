import { parse, printValue } from '../../format/gvariant.js';
import { encodeXattrs, XATTRS_TYPE } from '../../format/objects.js';
import { listTree, type LsEntry } from '../../repo/inspect.js';
import { openRepo, verb, write } from '../common.js';
import { document } from '../output.js';
import { arg, args, flag } from '../options.js';

export function renderEntry(e: LsEntry, opts: { xattrs?: boolean; checksum?: boolean }): string {
  let s = `${e.type}0${(e.mode & 0o7777).toString(8).padStart(4, '0')} ${e.uid} ${e.gid} ${String(e.size).padStart(6)} `;
  if (opts.checksum) s += e.type === 'd' ? `${e.checksum} ${e.metaChecksum} ` : `${e.checksum} `;
  if (opts.xattrs) s += `{ ${printValue(XATTRS_TYPE, parse(XATTRS_TYPE, encodeXattrs(e.xattrs)))} } `;
  s += e.path;
  if (e.type === 'l') s += ` -> ${e.target}`;
  return `${s}\n`;
}

export default verb({
  positionals: { commit: arg('Ref or checksum'), paths: args('Paths inside the commit (default /)') },
  options: {
    recursive: flag('List directories recursively', { alias: 'R' }),
    dironly: flag('List a directory itself, not its contents (unless -R)', { alias: 'd' }),
    xattrs: flag('Show extended attributes', { alias: 'X' }),
    checksum: flag('Show object checksums', { alias: 'C' }),
    'nul-filenames-only': flag('Print only file names, NUL-separated'),
    json: flag('Print one JSON document per entry and line (kind TreeEntry)'),
  },
  async run(o) {
    const repo = await openRepo(o);
    for await (const e of listTree(repo, o.commit, o.paths, { recursive: o.recursive, dirOnly: o.dironly && !o.recursive })) {
      if (o.nulFilenamesOnly) write(`${e.path}\0`);
      else if (o.json) {
        write(`${JSON.stringify(document('TreeEntry', { ...e, mode: e.mode & 0o7777, xattrs: e.xattrs.map((x) => ({ name: x.name, value: Buffer.from(x.value).toString('base64') })) }))}\n`);
      } else write(renderEntry(e, o));
    }
  },
});
