/** `signature`: the remote's policy accepted the commit's signatures (verified while it was resolved). */
import type { PreflightCheck } from './context.js';

export const signature: PreflightCheck = {
  name: 'signature',
  stage: 'target',
  async run(ctx) {
    const { refusal, verified } = ctx.verification;
    if (refusal) return { check: 'signature', ok: false, detail: refusal.message };
    if (!ctx.remote) return { check: 'signature', ok: true, detail: 'local ref: no remote policy applies' };
    return {
      check: 'signature', ok: true,
      detail: verified?.checked.length ? `verified (${verified.checked.join(', ')})` : `remote '${ctx.remote}' requires no signature`,
    };
  },
};
