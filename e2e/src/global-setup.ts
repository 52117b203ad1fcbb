/**
 * jest globalSetup: directories the suites of one run share: the shared gantryds' (one per jest
 * worker, started by the first suite of that worker that asks for it, `sharedGantryd`) and the busybox archive cache. Short /tmp paths:
 * unix sockets are limited to 108 bytes.
 */
import * as fs from 'node:fs';
import { ARCHIVE_CACHE, SHARED_GANTRYD } from './gantryd';

export default function globalSetup(): void {
  process.env[SHARED_GANTRYD] = fs.mkdtempSync('/tmp/gsh-');
  process.env[ARCHIVE_CACHE] = fs.mkdtempSync('/tmp/gac-');
}
