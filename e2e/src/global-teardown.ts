/** jest globalTeardown: stops the shared gantryds (those a suite started) and deletes what globalSetup made. */
import * as fs from 'node:fs';
import { ARCHIVE_CACHE, GantrydHarness, SHARED_GANTRYD } from './gantryd';

export default async function globalTeardown(): Promise<void> {
  const shared = process.env[SHARED_GANTRYD];
  if (shared !== undefined) await GantrydHarness.stopAllShared(shared);
  const cache = process.env[ARCHIVE_CACHE];
  if (cache !== undefined) fs.rmSync(cache, { recursive: true, force: true });
}
