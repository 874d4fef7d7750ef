import { diffStats } from '../../repo/diff-stats.js';
import { diffRevs } from '../../repo/inspect.js';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { diffSides, type DiffSide } from '../../repo/diff-dirs.js';
import { openRepo, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { arg, flag, JSON_OPTION, str } from '../options.js';
import { formatSize } from './show.js';

export default verb({
  positionals: { from: arg('Ref or checksum, or a directory (a path starting with / or ./)'), to: arg('Ref or checksum, or a directory') },
  options: {
    'no-xattrs': flag('Leave the extended attributes of directories on disk out of the comparison'),
    'owner-uid': str('Take UID as the owner of the second directory\'s files (as if committed with --owner-uid)'),
    'owner-gid': str('Take GID as the group of the second directory\'s files'),
    stats: flag('Print the object counts of both commits and what they share (alone: instead of the file list)'),
    'fs-diff': flag('Print the file list (the default without --stats)'),
    json: JSON_OPTION,
  },
  async run(o) {
    const repo = await openRepo(o);
    const fsDiff = o.fsDiff || !o.stats;
    const side = (arg: string): DiffSide => (arg.startsWith('/') || arg.startsWith('./') ? { kind: 'dir', path: arg } : { kind: 'rev', rev: arg });
    const a = side(o.from);
    const b = side(o.to);
    const id = (v: string | undefined, what: string): number | undefined => {
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v)) throw new OstreeTsError(Codes.USAGE, `${what} takes a number; got '${v}'.`, { value: v });
      return Number(v);
    };
    const dirs = a.kind === 'dir' || b.kind === 'dir';
    if (fsDiff) {
      const d = dirs || o.noXattrs || o.ownerUid !== undefined || o.ownerGid !== undefined
        ? await diffSides(repo, a, b, { ignoreXattrs: o.noXattrs, ownerUid: id(o.ownerUid, '--owner-uid'), ownerGid: id(o.ownerGid, '--owner-gid') })
        : await diffRevs(repo, o.from, o.to);
      if (o.json) return printDocument('TreeDiff', d);
      for (const p of d.modified) write(`M    ${p}\n`);
      for (const p of d.removed) write(`D    ${p}\n`);
      for (const p of d.added) write(`A    ${p}\n`);
    }
    if (o.stats) {
      if (dirs) throw new OstreeTsError(Codes.USAGE, `Invalid refspec ${a.kind === 'dir' ? o.from : o.to}: --stats compares two commits, not a directory.`);
      const s = await diffStats(repo, o.from, o.to);
      write(`[A] Object Count: ${s.objectsA}\n[B] Object Count: ${s.objectsB}\nCommon Object Count: ${s.commonObjects}\nCommon Object Size: ${formatSize(s.commonBytes)}\n`);
    }
  },
});
