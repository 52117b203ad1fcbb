/**
 * gantry-containerd with a metadata record that no longer parses (damage while it was down): the
 * record is moved to <root>/metadata/quarantine/..., the structured log says which and why, and
 * the daemon starts and serves every other record.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { containers, namespaceMetadata } from '@gantry/api';
import { Logger } from '@gantry/linux';
import { startDaemon, type Daemon } from '../src/server';
import { newContainer, rpc } from './services-harness';

describe('gantry-containerd start-up with a corrupt metadata record', () => {
  let dir: string;
  let daemon: Daemon | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gcd-quar-'));
  });
  afterEach(async () => {
    await daemon?.close();
    daemon = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = (lines: string[] = []) =>
    startDaemon({
      address: path.join(dir, 'c.sock'),
      root: path.join(dir, 'root'),
      state: path.join(dir, 'state'),
      log: new Logger('info', {}, (l) => lines.push(l)),
    });

  it('quarantines it, logs it and serves the other containers', async () => {
    daemon = await start();
    daemon.stores.containers.create('qa', newContainer('good'));
    daemon.stores.containers.create('qa', newContainer('bad'));
    await daemon.close();
    daemon = undefined;

    const record = path.join(dir, 'root', 'metadata', 'namespaces', 'qa', 'containers', 'bad.json');
    const damaged = fs.readFileSync(record, 'utf8').slice(0, 40);
    fs.writeFileSync(record, damaged);

    const lines: string[] = [];
    daemon = await start(lines);
    const client = new containers.ContainersClient(`unix://${path.join(dir, 'c.sock')}`, credentials.createInsecure());
    try {
      const listed = await rpc<containers.ListContainersResponse>((cb) => client.list({ filters: [] }, namespaceMetadata('qa'), cb));
      expect(listed.containers.map((c) => c.id)).toEqual(['good']);
    } finally {
      client.close();
    }
    const logged = lines.map((l) => JSON.parse(l) as Record<string, string>).filter((l) => l.msg?.includes('quarantined'));
    expect(logged).toEqual([
      expect.objectContaining({
        level: 'error',
        file: record,
        quarantinedAs: expect.stringMatching(/\/metadata\/quarantine\/namespaces\/qa\/containers\/bad\.json\.\d{8}T\d{6}\.\d{3}Z$/),
        reason: expect.stringMatching(/^invalid JSON/),
      }),
    ]);
    // kept as it was, for whoever looks into it
    expect(fs.readFileSync(logged[0]!.quarantinedAs!, 'utf8')).toBe(damaged);
    expect(fs.existsSync(record)).toBe(false);
    // the id is free again
    daemon.stores.containers.create('qa', newContainer('bad'));
    expect(daemon.stores.containers.list('qa').map((c) => c.id)).toEqual(['bad', 'good']);
  });
});
