import { Codes, OstreeTsError } from '../../errors/index.js';
import { openRepo, verb, write } from '../common.js';
import { arg, optionalArg, str } from '../options.js';

function splitKey(key: string): [string, string] {
  const i = key.lastIndexOf('.');
  if (i <= 0 || i === key.length - 1) throw new OstreeTsError(Codes.USAGE, `Keys look like SECTION.KEY (for example core.mode), not '${key}'.`, { key });
  return [key.slice(0, i), key.slice(i + 1)];
}

export default verb({
  positionals: {
    action: arg('What to do', { choices: ['get', 'set', 'unset'] }),
    key: optionalArg('SECTION.KEY, e.g. core.mode or \'remote "origin".url\' (with --group: KEY alone)'),
    value: optionalArg('With set: the value'),
  },
  options: {
    group: str('The group (section) of KEY, for keys or groups with dots in their names: --group=\'remote "origin"\' get url'),
  },
  examples: [['$0 --repo=repo config set core.fsync false', 'Trade durability for speed']],
  async run(o) {
    const repo = await openRepo(o);
    if (o.key === undefined) {
      throw new OstreeTsError(Codes.USAGE, o.group !== undefined ? 'Group name and key must be specified: config --group=GROUP get KEY.' : 'A key must be specified: SECTION.KEY.');
    }
    if (o.action !== 'set' && o.value !== undefined) throw new OstreeTsError(Codes.USAGE, `Too many arguments given: config ${o.action} takes one key.`);
    const [group, key] = o.group !== undefined ? [o.group, o.key] : splitKey(o.key);
    if (o.action === 'get') {
      const v = repo.config.get(group, key);
      if (v === undefined) {
        const why = repo.config.group(group) ? `Key file does not have key “${key}” in group “${group}”` : `Key file does not have group “${group}”`;
        throw new OstreeTsError(Codes.NOT_FOUND, why, { group, key });
      }
      write(`${v}\n`);
      return;
    }
    if (o.action === 'set') {
      if (o.value === undefined) throw new OstreeTsError(Codes.USAGE, 'config set needs a value.');
      repo.config.set(group, key, o.value);
    } else if (!repo.config.remove(group, key)) {
      throw new OstreeTsError(Codes.NOT_FOUND, `Key file does not have key “${key}” in group “${group}”`, { group, key });
    }
    await repo.saveConfig();
  },
});
