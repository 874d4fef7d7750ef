import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { openRepo, write, type GlobalArgs } from '../common.js';

export const command = 'config <action> <key> [value]';
export const describe = 'Get or set repository configuration (SECTION.KEY)';

export function builder(y: Argv): Argv {
  return y
    .positional('action', { choices: ['get', 'set', 'unset'], describe: 'What to do' })
    .positional('key', { type: 'string', describe: 'SECTION.KEY, e.g. core.mode or \'remote "origin".url\'' })
    .positional('value', { type: 'string' })
    .example('$0 --repo=repo config set core.fsync false', 'Trade durability for speed');
}

function splitKey(key: string): [string, string] {
  const i = key.lastIndexOf('.');
  if (i <= 0 || i === key.length - 1) throw new OstreeTsError(Codes.USAGE, `Keys look like SECTION.KEY (for example core.mode), not '${key}'.`, { key });
  return [key.slice(0, i), key.slice(i + 1)];
}

export async function handler(argv: GlobalArgs & { action: string; key: string; value?: string }): Promise<void> {
  const repo = await openRepo(argv);
  const [group, key] = splitKey(argv.key);
  if (argv.action === 'get') {
    const v = repo.config.get(group, key);
    if (v === undefined) {
      const why = repo.config.group(group) ? `Key file does not have key “${key}” in group “${group}”` : `Key file does not have group “${group}”`;
      throw new OstreeTsError(Codes.NOT_FOUND, why, { group, key });
    }
    write(`${v}\n`);
    return;
  }
  if (argv.action === 'set') {
    if (argv.value === undefined) throw new OstreeTsError(Codes.USAGE, 'config set needs a value.');
    repo.config.set(group, key, argv.value);
  } else if (!repo.config.remove(group, key)) {
    throw new OstreeTsError(Codes.NOT_FOUND, `Key file does not have key “${key}” in group “${group}”`, { group, key });
  }
  await repo.saveConfig();
}
