import { osInit } from '../../sysroot/deploy.js';
import { write } from '../common.js';
import { arg } from '../options.js';
import { adminVerb, sysrootOf } from './common.js';

export default adminVerb({
  positionals: { stateroot: arg('The stateroot to create (its deployments share one /var)') },
  async run(o) {
    await osInit(sysrootOf(o), o.stateroot);
    write(`ostree/deploy/${o.stateroot} initialized as OSTree root\n`);
  },
});
