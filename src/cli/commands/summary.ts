import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { parseVariantText, type VarDict } from '../../format/index.js';
import { fsp, isErrno, path } from '../../io/index.js';
import { decodeSummary, regenerateSummary, summaryView } from '../../repo/index.js';
import { signSummary } from '../../sign/index.js';
import { asList, openRepo, write, type GlobalArgs } from '../common.js';
import { forLocale } from '../locale.js';
import { renderSummary, renderSummaryRaw } from '../summary-view.js';
import { SIGNING_OPTIONS, signersFrom, type SigningArgs } from '../signing.js';

export const command = 'summary';
export const describe = 'Regenerate, sign or show the repository summary';

export function builder(y: Argv): Argv {
  return y
    .option('update', { alias: 'u', type: 'boolean', describe: 'Regenerate the summary from the current refs (removes summary.sig)' })
    .option('view', { type: 'boolean', describe: 'Print the summary' })
    .option('add-metadata', { alias: 'm', type: 'string', describe: 'KEY=VALUE (GVariant text) added to the summary metadata' })
    .option('raw', { type: 'boolean', describe: 'With --view: print the whole summary as GVariant text' })
    .option('json', { type: 'boolean', describe: 'With --view: print the summary as a JSON document' })
    .options(SIGNING_OPTIONS)
    .example('$0 --repo=repo summary -u --keys-file=keys/secret.ed25519', 'Regenerate and sign with ed25519 (summary.sig)')
    .example('$0 --repo=repo summary -u --gpg-sign=release@example.org --gpg-key-file=release.sec.asc', 'Regenerate and sign with OpenPGP');
}

export async function handler(argv: GlobalArgs & SigningArgs & { update?: boolean; view?: boolean; raw?: boolean; addMetadata?: string[]; json?: boolean }): Promise<void> {
  const repo = await openRepo(argv);
  const signers = await signersFrom(argv);
  if (argv.update) {
    const additional: VarDict = asList(argv.addMetadata).map((s) => {
      const i = s.indexOf('=');
      if (i <= 0) throw new OstreeTsError(Codes.USAGE, `--add-metadata needs KEY=VALUE, got '${s}'.`, { value: s });
      return [s.slice(0, i), parseVariantText(s.slice(i + 1))];
    });
    await regenerateSummary(repo, { additional, onWarning: (e) => process.stderr.write(`warning: left out of the summary: ${e.message}\n`) });
  }
  if (signers.length) await signSummary(repo, signers);
  if (argv.view || argv.raw || (!argv.update && !signers.length)) {
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(path.join(repo.path, 'summary'));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw new OstreeTsError(Codes.NOT_FOUND, `${repo.path} has no summary. Generate it with 'ostree-ts summary -u'.`, { path: repo.path });
      throw e;
    }
    let s;
    try {
      s = decodeSummary(bytes);
    } catch (e) {
      throw new OstreeTsError(Codes.OBJECT_CORRUPT, `${repo.path}/summary is not a valid summary: ${(e as Error).message} Regenerate it with 'ostree-ts summary -u'.`, { path: repo.path }, { cause: e });
    }
    if (argv.json) write(`${JSON.stringify(summaryView(s), null, 2)}\n`);
    else if (argv.raw) write(renderSummaryRaw(bytes));
    else write(forLocale(renderSummary(s), process.env));
  }
}
