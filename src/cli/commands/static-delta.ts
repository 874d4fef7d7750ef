import { Codes, OstreeTsError } from '../../errors/index.js';
import { Op, decodePayload, deltaName, inlinePart, planPart } from '../../format/delta.js';
import { fsp, path } from '../../io/fs.js';
import { applyOffline, openPart } from '../../repo/delta-apply.js';
import { generateDelta, type DeltaCompression } from '../../repo/delta-generate.js';
import { deleteDelta, deltaPath, findDelta, listDeltas, loadSuperblock } from '../../repo/delta.js';
import { resolveRev } from '../../repo/refs.js';
import { openRepo, verb, write, type GlobalArgs } from '../common.js';
import { printDocument } from '../output.js';
import { arg, args, flag, JSON_OPTION, num, str, type Parsed } from '../options.js';
import { progressLine } from '../progress.js';
import { formatSize } from '../summary-view.js';

const POSITIONALS = {
  action: arg('What to do', { choices: ['list', 'show', 'delete', 'generate', 'apply-offline'] }),
  args: args('show/delete: a delta name (FROM-TO or TO); apply-offline: a delta directory or superblock file'),
};

const OPTIONS = {
  from: str('generate: the commit clients have (default: the parent of --to)'),
  to: str('generate: the commit clients want'),
  empty: flag('generate: a from-scratch delta (clients have nothing)'),
  inline: flag('generate: put the parts inside the superblock'),
  'if-not-exists': flag('generate: do nothing if the delta exists', { alias: 'n' }),
  'min-fallback-size': num('generate: files larger than this many MB are fetched as plain objects (default 4; 0 never)'),
  'max-chunk-size': num('generate: cut parts at this many MB (default 16; ostree uses 32)'),
  'disable-bsdiff': flag('generate: accepted for ostree compatibility (ostree-ts writes no bsdiff)'),
  'disable-copies': flag('generate: write modified files whole, not as copies from the old version'),
  compression: str('generate: part compression (default xz, as ostree writes; none for inspection)', { choices: ['xz', 'none'] }),
  level: num('generate: xz preset 0-9 for data parts (default 6); parts of x86 machine code use two less, behind the x86 filter'),
  jobs: num('generate: parts compressed at once (default: the number of CPUs)'),
  json: JSON_OPTION,
};

type DeltaArgs = GlobalArgs & Parsed<typeof POSITIONALS> & Parsed<typeof OPTIONS>;

async function rev(repo: Parameters<typeof resolveRev>[0], r: string): Promise<string> {
  return (await resolveRev(repo, r)) as string;
}

async function handler(argv: DeltaArgs): Promise<void> {
  const repo = await openRepo(argv);
  const args = argv.args;
  switch (argv.action) {
    case 'list': {
      const deltas = await listDeltas(repo);
      if (argv.json) printDocument('StaticDeltaList', { deltas: deltas.map((d) => d.name) });
      else if (!deltas.length) write('(No static deltas)\n');
      else for (const d of deltas) write(`${d.name}\n`);
      return;
    }
    case 'show': {
      if (!args[0]) throw new OstreeTsError(Codes.USAGE, 'Which delta? ostree-ts static-delta show FROM-TO (see static-delta list).');
      const d = await findDelta(repo, args[0]);
      const { superblock: sb, signatures, digest } = await loadSuperblock(repo, d.from, d.to);
      const partSize = sb.parts.reduce((n, p) => n + p.size, 0n);
      const partUsize = sb.parts.reduce((n, p) => n + p.uncompressedSize, 0n);
      const fbSize = sb.fallbacks.reduce((n, f) => n + f.compressedSize, 0n);
      const fbUsize = sb.fallbacks.reduce((n, f) => n + f.uncompressedSize, 0n);
      if (argv.json) {
        printDocument('StaticDelta', {
          name: d.name, signed: signatures !== null, from: sb.from, to: sb.to, timestamp: Number(sb.timestamp), digest,
          parts: sb.parts.map((p) => ({ checksum: p.checksum, size: Number(p.size), uncompressedSize: Number(p.uncompressedSize), objects: p.objects.length })),
          fallbacks: sb.fallbacks.map((f) => ({ type: f.type, checksum: f.checksum, size: Number(f.compressedSize), uncompressedSize: Number(f.uncompressedSize) })),
        });
        return;
      }
      const lines = [
        `Delta: ${d.name}`,
        `Signed: ${signatures ? 'yes' : 'no'}`,
        sb.from ? `From: ${sb.from}` : 'From <scratch>',
        `To: ${sb.to}`,
        'Endianness: little',
        `Timestamp: ${sb.timestamp}`,
        'Number of parents: 0',
        `Number of fallback entries: ${sb.fallbacks.length}`,
        ...sb.fallbacks.map((f) => `  ${f.checksum}`),
        `Total Fallback Size: ${fbSize} (${formatSize(Number(fbSize))})`,
        `Total Fallback Uncompressed Size: ${fbUsize} (${formatSize(Number(fbUsize))})`,
        `Number of parts: ${sb.parts.length}`,
      ];
      for (let i = 0; i < sb.parts.length; i++) {
        const p = sb.parts[i];
        lines.push(`PartMeta${i}: nobjects=${p.objects.length} size=${p.size} usize=${p.uncompressedSize}`);
        const what = `part ${i} of delta ${d.name}`;
        const bytes = inlinePart(sb, i) ?? await fsp.readFile(path.join(deltaPath(repo, d.from, d.to), String(i)));
        const payload = decodePayload(await openPart(bytes, p, what), what);
        const counts = new Map<number, number>();
        planPart(payload, p.objects, what, undefined, counts);
        const n = (op: number): number => counts.get(op) ?? 0;
        lines.push(`PartPayload${i}: nmodes=${payload.modes.length} nxattrs=${payload.xattrs.length} blobsize=${payload.blob.length} opsize=${payload.ops.length}`);
        lines.push(`PartPayloadOps${i}: openspliceclose=${n(Op.OPEN_SPLICE_AND_CLOSE)} open=${n(Op.OPEN)} write=${n(Op.WRITE)} setread=${n(Op.SET_READ_SOURCE)} unsetread=${n(Op.UNSET_READ_SOURCE)} close=${n(Op.CLOSE)} bspatch=${n(Op.BSPATCH)}`);
      }
      lines.push(
        `Total Part Size: ${partSize} (${formatSize(Number(partSize))})`,
        `Total Part Uncompressed Size: ${partUsize} (${formatSize(Number(partUsize))})`,
        `Total Size: ${partSize + fbSize} (${formatSize(Number(partSize + fbSize))})`,
        `Total Uncompressed Size: ${partUsize + fbUsize} (${formatSize(Number(partUsize + fbUsize))})`,
      );
      write(`${lines.join('\n')}\n`);
      return;
    }
    case 'delete': {
      if (!args[0]) throw new OstreeTsError(Codes.USAGE, 'Which delta? ostree-ts static-delta delete FROM-TO (see static-delta list).');
      const d = await findDelta(repo, args[0]);
      await deleteDelta(repo, d.from, d.to);
      return;
    }
    case 'generate': {
      const toRev = argv.to;
      if (!toRev) throw new OstreeTsError(Codes.USAGE, 'generate needs --to=REV (and --from=REV or --empty).');
      const to = await rev(repo, toRev);
      let from: string | null = null;
      const fromRev = argv.from;
      if (argv.empty && fromRev) throw new OstreeTsError(Codes.USAGE, 'Give --from=REV or --empty, not both.');
      if (!argv.empty) {
        from = fromRev ? await rev(repo, fromRev) : (await repo.loadCommit(to)).parent;
        if (!from) throw new OstreeTsError(Codes.USAGE, `Commit ${to} has no parent; give --from=REV, or --empty for a from-scratch delta.`);
      }
      if (argv.ifNotExists && (await listDeltas(repo)).some((d) => d.name === deltaName(from, to))) {
        write(`Delta ${deltaName(from, to)} already exists.\n`);
        return;
      }
      if (!argv.json) write(`Generating static delta:\n  From: ${from ?? 'empty'}\n  To:   ${to}\n`);
      const mb = (n: number | undefined): number | undefined => (n === undefined ? undefined : n * 1000 * 1000);
      const progress = progressLine();
      const result = await generateDelta(repo, {
        from, to,
        maxChunkSize: mb(argv.maxChunkSize),
        minFallbackSize: mb(argv.minFallbackSize),
        inline: argv.inline,
        copies: !argv.disableCopies,
        compression: (argv.compression ?? 'xz') as DeltaCompression,
        level: argv.level,
        jobs: argv.jobs,
        onProgress: (e) => progress.update(e.phase === 'scan' ? `Reading objects: ${e.done}/${e.total}` : `Compressing parts: ${e.done}/${e.total}`),
      });
      progress.done();
      if (argv.json) {
        printDocument('StaticDeltaGenerateResult', { name: result.name, parts: result.parts.length, fallbacks: result.fallbacks.length, objects: result.objects, copied: result.copied, bytes: result.bytes });
      }
      return;
    }
    case 'apply-offline': {
      if (!args[0]) throw new OstreeTsError(Codes.USAGE, 'apply-offline needs a delta directory or superblock file.');
      const progress = progressLine();
      const r = await applyOffline(repo, args[0], { onPart: (i, n) => progress.update(`Applying part ${i + 1}/${n}`) });
      progress.done();
      if (argv.json) printDocument('StaticDeltaApplyResult', { from: r.from, to: r.to, written: r.stats.written, existing: r.stats.existing });
      return;
    }
    default:
      throw new OstreeTsError(Codes.USAGE, `Unknown static-delta action '${argv.action}'.`);
  }
}

export default verb({
  positionals: POSITIONALS,
  options: OPTIONS,
  examples: [
    ['$0 --repo=repo static-delta generate --from=os/v1 --to=os/v2', 'A delta that updates clients from v1 to v2 (then run summary -u)'],
    ['$0 --repo=repo static-delta generate --empty --to=os/v2', 'A from-scratch delta: a first install in a few requests'],
    ['$0 --repo=repo static-delta apply-offline /media/usb/deltas/XX/YYYY', 'Apply a delta carried on removable media'],
  ],
  run: handler,
});
