#!/usr/bin/env node
/** `gantry`: exits with the command's status once stdout has drained. */
import { runCli } from './run';

void runCli(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
});
