import { Codes, OstreeTsError } from '../../errors/index.js';
import { byteswapValue, parseNormal, parseType, printValue, type VarDict } from '../../format/gvariant.js';
import { COMMIT_TYPE, DIRMETA_TYPE, DIRTREE_TYPE, type ObjectType } from '../../format/objects.js';
import { commitObjectSizes } from '../../format/sizes.js';
import { fsp } from '../../io/fs.js';
import { configuredRemotes, resolveRev } from '../../repo/refs.js';
import type { Repo } from '../../repo/repo.js';
import { signaturesIn } from '../../sign/signatures.js';
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

/** GLib's g_format_size: "N bytes" below 1000, else one decimal and an SI unit. */
export function formatSize(n: number): string {
  if (n < 1000) return n === 1 ? '1 byte' : `${n} bytes`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let i = 0;
  let factor = 1000;
  while (i < units.length - 1 && n >= factor * 1000) {
    factor *= 1000;
    i++;
  }
  // GLib puts a no-break space between the number and the unit.
  return `${(n / factor).toFixed(1)}\u00a0${units[i]}`;
}

const TYPES: Array<[ObjectType, ReturnType<typeof parseType>]> = [['commit', COMMIT_TYPE], ['dirtree', DIRTREE_TYPE], ['dirmeta', DIRMETA_TYPE]];

async function printSizes(repo: Repo, checksum: string, metadata: VarDict): Promise<string> {
  const sizes = commitObjectSizes(metadata);
  if (!sizes) throw new OstreeTsError(Codes.NOT_FOUND, `No metadata key ostree.sizes in commit ${checksum}; commit with --generate-sizes to have one.`, { checksum });
  let archived = 0;
  let unpacked = 0;
  let newArchived = 0;
  let newUnpacked = 0;
  let needed = 0;
  for (const s of sizes.values()) {
    archived += s.archived;
    unpacked += s.unpacked;
    if (!(await repo.hasObject(s.checksum, s.type))) {
      needed++;
      newArchived += s.archived;
      newUnpacked += s.unpacked;
    }
  }
  return `Compressed size (needed/total): ${formatSize(newArchived)}/${formatSize(archived)}\n`
    + `Unpacked size (needed/total): ${formatSize(newUnpacked)}/${formatSize(unpacked)}\n`
    + `Number of objects (needed/total): ${needed}/${sizes.size}\n`;
}

/**
 * The "Found N signatures" block ostree prints after a commit with GPG
 * signatures, each checked against the keys given (a remote's, or a key
 * directory's); with neither, no key is known, as with ostree on a host
 * without a system keyring.
 */
async function signatureBlock(repo: Repo, checksum: string, o: { gpgHomedir?: string; gpgVerifyRemote?: string }): Promise<string> {
  const sigs = signaturesIn(await repo.loadCommitMeta(checksum), 'ostree.gpgsigs');
  if (!sigs.length) return '';
  // Loaded only for a signed commit: show of an unsigned one starts as fast as before.
  const [{ describeGpgSignatures, loadPublicKeys, renderGpgSignatures }, { remotePolicy }, { formatGlibDateTime }, { forLocale }] = await Promise.all([
    import('../../sign/gpg.js'), import('../../sign/policy.js'), import('../../format/glib-date.js'), import('../locale.js'),
  ]);
  const allRemoteKeyrings = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const name of configuredRemotes(repo)) out.push(...(await remotePolicy(repo, name)).gpgKeys);
    return out;
  };
  // Without a remote named, as libostree: the keys trusted for every remote of the repository, and DIR's.
  const files = o.gpgVerifyRemote ? (await remotePolicy(repo, o.gpgVerifyRemote)).gpgKeys : [...await allRemoteKeyrings(), ...(o.gpgHomedir ? [o.gpgHomedir] : [])];
  const keys = files.length ? await loadPublicKeys(files) : [];
  const reports = await describeGpgSignatures(await repo.readMetadataBytes('commit', checksum), sigs, keys, new Date(repo.host.now()));
  return forLocale(renderGpgSignatures(reports, formatGlibDateTime), process.env);
}

/** Resolve OBJECT as a rev, else (as ostree) as the checksum of a dirtree or dirmeta. */
async function findObject(repo: Repo, object: string): Promise<{ type: ObjectType; checksum: string }> {
  if (/^[0-9a-f]{64}$/.test(object) && !(await repo.hasObject(object, 'commit'))) {
    for (const type of ['dirtree', 'dirmeta'] as const) if (await repo.hasObject(object, type)) return { type, checksum: object };
  }
  return { type: 'commit', checksum: (await resolveRev(repo, object)) as string };
}

export default verb({
  positionals: { object: arg('Ref, commit checksum, dirtree or dirmeta checksum (or, with --print-variant-type, a file)') },
  options: {
    'print-metadata-key': str('Print the value of commit metadata KEY (GVariant text)'),
    'print-detached-metadata-key': str('Print the value of detached metadata KEY'),
    'print-sizes': flag('Print the commit size metadata (ostree.sizes): compressed and unpacked sizes, and what this repository still needs'),
    'print-related': flag('Print the commit\'s "related" entries, NAME CHECKSUM per line'),
    'print-variant-type': str('Read OBJECT as a file holding a GVariant of TYPE and print it'),
    raw: flag('Print the object as GVariant text'),
    'gpg-homedir': str('Check the commit\'s GPG signatures against the exported keys in DIR (pubring.gpg, trustedkeys.gpg, *.asc, *.gpg)'),
    'gpg-verify-remote': str('Check the commit\'s GPG signatures against the keys trusted for remote NAME'),
    'no-byteswap': flag('Do not convert values from big endian (as ostree does by default)', { alias: 'B' }),
    json: JSON_OPTION,
  },
  examples: [["$0 --repo=repo show os --print-metadata-key=version", "Prints e.g. '1.2.3'"], ['$0 --repo=repo show --print-sizes os', 'How much a pull of os would fetch']],
  async run(o) {
    if (o.printVariantType !== undefined) {
      let type;
      try {
        type = parseType(o.printVariantType);
      } catch {
        throw new OstreeTsError(Codes.USAGE, `'${o.printVariantType}' is not a GVariant type string; give one such as '(uuua(ayay))'.`, { type: o.printVariantType });
      }
      const data = await fsp.readFile(o.object).catch((e: NodeJS.ErrnoException) => {
        throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read ${o.object}: ${e.code === 'ENOENT' ? 'no such file' : e.message}.`, { path: o.object });
      });
      // ostree prints these byteswapped whatever -B says.
      write(`${printValue(type, byteswapValue(type, parseNormal(type, data)))}\n`);
      return;
    }
    const repo = await openRepo(o);
    const { type, checksum } = await findObject(repo, o.object);
    // ostree byteswaps printed values on little-endian hosts unless -B is given.
    const swap = !o.noByteswap;
    if (type !== 'commit') {
      write(`${type} ${checksum}\n`);
      if (o.raw) {
        const t = TYPES.find(([k]) => k === type)?.[1] as ReturnType<typeof parseType>;
        const value = parseNormal(t, await repo.readMetadataBytes(type, checksum));
        write(`${printValue(t, swap ? byteswapValue(t, value) : value)}\n`);
      }
      return;
    }
    const commit = await repo.loadCommit(checksum);
    if (o.printMetadataKey !== undefined) {
      write(printKey(commit.metadata, o.printMetadataKey, swap, 'metadata'));
      return;
    }
    if (o.printDetachedMetadataKey !== undefined) {
      write(printKey(await repo.loadCommitMeta(checksum), o.printDetachedMetadataKey, swap, 'detached metadata'));
      return;
    }
    if (o.printSizes) {
      write(await printSizes(repo, checksum, commit.metadata));
      return;
    }
    if (o.printRelated) {
      write(commit.related.map(([name, csum]) => `${name} ${csum}\n`).join(''));
      return;
    }
    if (o.json) return printDocument('Commit', commitDocument(checksum, commit));
    if (o.raw) {
      const value = parseNormal(COMMIT_TYPE, await repo.readMetadataBytes('commit', checksum));
      write(`commit ${checksum}\n${printValue(COMMIT_TYPE, swap ? byteswapValue(COMMIT_TYPE, value) : value)}\n`);
      // ostree then goes on to the usual details when -B is given too.
      if (!swap) write(renderCommit(checksum, commit).replace(/^commit [^\n]*\n/, ''));
      write(await signatureBlock(repo, checksum, o));
      return;
    }
    write(renderCommit(checksum, commit));
    write(await signatureBlock(repo, checksum, o));
  },
});
