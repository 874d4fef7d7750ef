#!/usr/bin/env node
/** ostree-ts: OSTree repositories and sysroots from the command line. The verbs are in commands/index.ts. */
import { PROGRAM } from './commands/index.js';
import { start } from './shell.js';

start(PROGRAM);
