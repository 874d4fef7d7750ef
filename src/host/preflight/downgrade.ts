/** `downgrade`: never older than what runs, unless asked (or a revision was named). */
import { formatTime } from '../format.js';
import { targetOf, type PreflightCheck } from './context.js';

export const downgrade: PreflightCheck = {
  name: 'downgrade',
  stage: 'update',
  async run(ctx) {
    const { checksum, commit } = targetOf(ctx, 'downgrade');
    const current = ctx.current.csum;
    const currentCommit = await ctx.repo.loadCommit(current).catch(() => null);
    if (currentCommit && commit.timestamp < currentCommit.timestamp && !ctx.allowDowngrade && !ctx.revision) {
      return {
        check: 'downgrade', ok: false,
        detail: `commit ${checksum} (${formatTime(commit.timestamp)}) is older than the deployed ${current} (${formatTime(currentCommit.timestamp)}). Allow a downgrade to deploy it anyway.`,
      };
    }
    return {
      check: 'downgrade', ok: true,
      detail: currentCommit ? `${formatTime(commit.timestamp)} is not older than ${formatTime(currentCommit.timestamp)}` : 'no current commit to compare with',
    };
  },
};
