import { Codes, OstreeTsError } from '../../errors/index.js';
import { parseVariantText } from '../../format/gvariant-text.js';
import type { VarDict } from '../../format/gvariant.js';
import { fsp, isErrno, path } from '../../io/fs.js';
import { decodeSummary, regenerateSummary, summaryView } from '../../repo/summary.js';
import { signSummary } from '../../sign/summary.js';
import { openRepo, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { flag, JSON_OPTION, list } from '../options.js';
import { forLocale } from '../locale.js';
import { renderSummary, renderSummaryRaw } from '../summary-view.js';
import { SIGNING_OPTIONS, signersFrom } from '../signing.js';

export default verb({
  options: {
    update: flag('Regenerate the summary from the current refs (removes summary.sig)', { alias: 'u' }),
    view: flag('Print the summary'),
    'add-metadata': list('KEY=VALUE (GVariant text) added to the summary metadata', { alias: 'm' }),
    raw: flag('With --view: print the whole summary as GVariant text'),
    json: JSON_OPTION,
    ...SIGNING_OPTIONS,
  },
  examples: [
    ['$0 --repo=repo summary -u --keys-file=keys/secret.ed25519', 'Regenerate and sign with ed25519 (summary.sig)'],
    ['$0 --repo=repo summary -u --gpg-sign=release@example.org --gpg-key-file=release.sec.asc', 'Regenerate and sign with OpenPGP'],
  ],
  async run(o) {
    const repo = await openRepo(o);
    const signers = await signersFrom(o);
    if (o.update) {
      const additional: VarDict = o.addMetadata.map((s) => {
        const i = s.indexOf('=');
        if (i <= 0) throw new OstreeTsError(Codes.USAGE, `--add-metadata needs KEY=VALUE, got '${s}'.`, { value: s });
        return [s.slice(0, i), parseVariantText(s.slice(i + 1))];
      });
      await regenerateSummary(repo, { additional, onWarning: (e) => process.stderr.write(`warning: left out of the summary: ${e.message}\n`) });
    }
    if (signers.length) await signSummary(repo, signers);
    if (o.view || o.raw || (!o.update && !signers.length)) {
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
      if (o.json) printDocument('Summary', summaryView(s));
      else if (o.raw) write(renderSummaryRaw(bytes));
      else write(forLocale(renderSummary(s), process.env));
    }
  },
});
