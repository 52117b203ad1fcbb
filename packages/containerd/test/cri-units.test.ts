/** The CRI service's pure parts: its config file, the CRI log format, the CNI config choice. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errdefs } from '@gantry/linux';
import { criConfigOf, DEFAULT_CRI_CONFIG, loadCriConfig } from '../src/cri/config';
import { CriLogFile, rfc3339Nano } from '../src/cri/container-log';
import { loadCniList } from '../src/cri/pod-network';

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cri-units-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('config file', () => {
  test('the [cri] table sets what it names; the rest keeps the defaults', () => {
    const file = path.join(dir, 'c.toml');
    fs.writeFileSync(file, '[cri]\ncni_conf_dir = "/x/net.d"\n[cri.registry.mirrors."docker.io"]\nendpoints = ["http://127.0.0.1:5000"]\n');
    expect(loadCriConfig(file)).toEqual({ ...DEFAULT_CRI_CONFIG, cniConfDir: '/x/net.d', mirrors: { 'docker.io': ['http://127.0.0.1:5000'] } });
    expect(loadCriConfig(undefined)).toEqual(DEFAULT_CRI_CONFIG);
  });

  test('wrong types and bad TOML are INVALID_ARGUMENT naming the key or file', () => {
    expect(() => criConfigOf({ cri: { cni_bin_dirs: 'one' } })).toThrow('cri.cni_bin_dirs: a list of strings is expected');
    const file = path.join(dir, 'bad.toml');
    fs.writeFileSync(file, '[cri\n');
    let err: unknown;
    try {
      loadCriConfig(file);
    } catch (e) {
      err = e;
    }
    expect(errdefs.isInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toContain(file);
  });
});

describe('CRI log format', () => {
  test('times are RFC3339Nano as Go writes them: no trailing zeros in the fraction', () => {
    expect(rfc3339Nano(1_796_294_036_573_695_338n)).toBe('2026-12-03T10:33:56.573695338Z');
    expect(rfc3339Nano(1_796_294_036_500_000_000n)).toBe('2026-12-03T10:33:56.5Z');
    expect(rfc3339Nano(1_796_294_036_000_000_000n)).toBe('2026-12-03T10:33:56Z');
  });

  test('one F entry per line, P parts for a line over 16 KiB, a line without newline written at flush', () => {
    const file = path.join(dir, 'c.log');
    const log = new CriLogFile(file);
    log.write('stdout', Buffer.from('one\ntw'));
    log.write('stderr', Buffer.from('err\n'));
    log.write('stdout', Buffer.from('o\n'));
    log.write('stdout', Buffer.alloc(16 * 1024 + 3, 'x'));
    log.flush();
    log.close();
    const entries = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ').slice(1));
    expect(entries.map(([s, t, text]) => [s, t, text!.length > 10 ? text!.length : text])).toEqual([
      ['stdout', 'F', 'one'],
      ['stderr', 'F', 'err'],
      ['stdout', 'F', 'two'],
      ['stdout', 'P', 16 * 1024],
      ['stdout', 'F', 'xxx'],
    ]);
  });
});

describe('CNI config directory', () => {
  test('the first usable file by name; a .conf becomes a one-plugin list; none is undefined', () => {
    expect(loadCniList(path.join(dir, 'missing'))).toBeUndefined();
    fs.writeFileSync(path.join(dir, '05-broken.conflist'), '{');
    fs.writeFileSync(path.join(dir, '10-one.conf'), JSON.stringify({ cniVersion: '0.4.0', name: 'one', type: 'bridge' }));
    fs.writeFileSync(path.join(dir, '20-two.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'two', plugins: [{ type: 'bridge' }] }));
    expect(loadCniList(dir)).toEqual({ cniVersion: '0.4.0', name: 'one', plugins: [{ cniVersion: '0.4.0', name: 'one', type: 'bridge' }] });
  });
});
