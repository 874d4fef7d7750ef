import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { parseVariantText, printValue, swap64, type VarDict } from '../../format/index.js';
import { loadSummary, regenerateSummary } from '../../repo/index.js';
import { signSummary } from '../../sign/index.js';
import { asList, formatDate, openRepo, write, type GlobalArgs } from '../common.js';
import { SIGNING_OPTIONS, signersFrom, type SigningArgs } from '../signing.js';

export const command = 'summary';
export const describe = 'Regenerate, sign or show the repository summary';

export function builder(y: Argv): Argv {
  return y
    .option('update', { alias: 'u', type: 'boolean', describe: 'Regenerate the summary from the current refs (removes summary.sig)' })
    .option('view', { type: 'boolean', describe: 'Print the summary' })
    .option('add-metadata', { alias: 'm', type: 'string', describe: 'KEY=VALUE (GVariant text) added to the summary metadata' })
    .option('json', { type: 'boolean', describe: 'With --view: print JSON' })
    .options(SIGNING_OPTIONS)
    .example('$0 --repo=repo summary -u --keys-file=keys/secret.ed25519', 'Regenerate and sign with ed25519 (summary.sig)')
    .example('$0 --repo=repo summary -u --gpg-sign=release@example.org --gpg-key-file=release.sec.asc', 'Regenerate and sign with OpenPGP');
}

export async function handler(argv: GlobalArgs & SigningArgs & { update?: boolean; view?: boolean; addMetadata?: string[]; json?: boolean }): Promise<void> {
  const repo = await openRepo(argv);
  const signers = await signersFrom(argv);
  if (argv.update) {
    const additional: VarDict = asList(argv.addMetadata).map((s) => {
      const i = s.indexOf('=');
      if (i <= 0) throw new OstreeTsError(Codes.USAGE, `--add-metadata needs KEY=VALUE, got '${s}'.`, { value: s });
      return [s.slice(0, i), parseVariantText(s.slice(i + 1))];
    });
    await regenerateSummary(repo, { additional });
  }
  if (signers.length) await signSummary(repo, signers);
  if (argv.view || (!argv.update && !signers.length)) {
    const s = await loadSummary(repo);
    if (!s) throw new OstreeTsError(Codes.NOT_FOUND, `${repo.path} has no summary. Generate it with 'ostree-ts summary -u'.`, { path: repo.path });
    if (argv.json) {
      write(`${JSON.stringify({
        refs: s.refs.map((r) => ({ name: r.name, checksum: r.checksum, size: Number(r.size), metadata: Object.fromEntries(r.metadata.map(([k, v]) => [k, printValue(v.type, v.value)])) })),
        metadata: Object.fromEntries(s.metadata.map(([k, v]) => [k, printValue(v.type, v.value)])),
      }, null, 2)}\n`);
      return;
    }
    for (const r of s.refs) {
      write(`* ${r.name}\n    Latest Commit (${r.size} bytes):\n      ${r.checksum}\n`);
      for (const [k, v] of r.metadata) {
        if (k === 'ostree.commit.timestamp') write(`    Timestamp (ostree.commit.timestamp): ${formatDate(swap64(v.value as bigint))}\n`);
        else if (k === 'ostree.commit.version') write(`    Version (ostree.commit.version): ${String(v.value)}\n`);
        else write(`    ${k}: ${printValue(v.type, v.value)}\n`);
      }
      write('\n');
    }
    for (const [k, v] of s.metadata) {
      if (k === 'ostree.summary.last-modified') write(`Last-Modified (ostree.summary.last-modified): ${formatDate(swap64(v.value as bigint))}\n`);
      else write(`${k}: ${printValue(v.type, v.value)}\n`);
    }
  }
}
