/**
 * A container record damaged while gantryd was down (issue #11, "crash safety of every record"):
 * gantryd still starts, `docker ps -a` lists the other containers, the damaged record is moved to
 * <container dir>/quarantine/ and the daemon's structured log names it; the container's log file
 * is not deleted with it.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { GantrydHarness } from '../src/gantryd';

describe('gantryd start-up with a corrupt container record', () => {
  let g: GantrydHarness;

  beforeAll(async () => {
    g = await GantrydHarness.start('gquar-');
    g.loadBusybox();
  }, 60000);

  afterAll(async () => {
    await g?.stop();
  }, 60000);

  it('quarantines the record, logs it, and serves the other container', async () => {
    g.ok(['run', '--name', 'qkeep', 'busybox', 'echo', 'kept-output']);
    g.ok(['run', '--name', 'qlost', 'busybox', 'echo', 'lost-output']);
    const lost = g.ok(['inspect', '-f', '{{.Id}}', 'qlost']).trim();
    const cdir = join(g.dir, 'data', 'containers', lost);
    const logFile = join(cdir, `${lost}-json.log`);
    expect(fs.readFileSync(logFile, 'utf8')).toContain('lost-output');

    await g.stopDaemon('SIGTERM');
    fs.writeFileSync(join(cdir, 'config.v2.json'), '{');
    const logBefore = fs.readFileSync(g.logPath, 'utf8').length;
    await g.startDaemon();

    expect(g.ok(['ps', '-a', '--format', '{{.Names}}']).trim().split('\n')).toEqual(['qkeep']);
    expect(g.ok(['logs', 'qkeep']).trim()).toBe('kept-output');
    expect(g.docker(['inspect', 'qlost']).status).not.toBe(0);

    const newLog = fs
      .readFileSync(g.logPath, 'utf8')
      .slice(logBefore)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const reported = newLog.filter((l) => String(l.msg).includes('container record quarantined'));
    expect(reported).toEqual([
      expect.objectContaining({
        level: 'error',
        id: lost,
        reason: expect.stringMatching(/^invalid JSON/),
        quarantinedAs: expect.stringContaining(join(cdir, 'quarantine', 'config.v2.json.')),
      }),
    ]);
    // moved aside as it was, and the container's log is still there
    expect(fs.readFileSync(String(reported[0]!.quarantinedAs), 'utf8')).toBe('{');
    expect(fs.readFileSync(logFile, 'utf8')).toContain('lost-output');

    // the name is free again, and the daemon works as usual
    g.ok(['run', '--name', 'qlost', 'busybox', 'echo', 'again']);
    expect(g.ok(['ps', '-a', '--format', '{{.Names}}']).trim().split('\n').sort()).toEqual(['qkeep', 'qlost']);
    g.ok(['rm', 'qkeep', 'qlost']);
  }, 120000);
});
