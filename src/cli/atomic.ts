#!/usr/bin/env node
/**
 * atomic: the host-facing command — status, upgrade, rollback, rebase,
 * deploy, pin, kargs, cleanup. The verbs are in atomic/index.ts.
 */
import { PROGRAM } from './atomic/index.js';
import { start } from './shell.js';

start(PROGRAM);
