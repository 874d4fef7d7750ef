/** `quarantine`: the commit did not fail its boot assessment here before (see host/quarantine.ts). */
import { targetOf, type PreflightCheck } from './context.js';

export const quarantine: PreflightCheck = {
  name: 'quarantine',
  stage: 'update',
  async run(ctx) {
    const { checksum } = targetOf(ctx, 'quarantine');
    const list = ctx.st.assessment?.quarantine ?? [];
    const q = list.find((e) => e.commit === checksum);
    if (q) {
      const version = q.version ? ` (version ${q.version})` : '';
      return {
        check: 'quarantine', ok: false,
        detail: `commit ${checksum}${version} is in quarantine since ${q.since}: ${q.reason}. It is deployed again once a newer commit is published on ${ctx.refspec}, or after 'atomic quarantine clear ${checksum.slice(0, 12)}'.`,
      };
    }
    const n = list.length;
    return { check: 'quarantine', ok: true, detail: n ? `not among the ${n} quarantined commits` : 'no commit is quarantined' };
  },
};
