import { decodePathStat, encodePathStat, GO_MODE, goFileMode, goTime, pathStat } from '../src/containers/path-stat';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

describe('Go os.FileMode from st_mode', () => {
  it('maps types and special bits the way Go does', () => {
    expect(goFileMode(0o040755)).toBe(2 ** 31 + 0o755);
    expect(goFileMode(0o100644)).toBe(0o644);
    expect(goFileMode(0o120777)).toBe(2 ** 27 + 0o777);
    expect(goFileMode(0o104755)).toBe(GO_MODE.setuid + 0o755);
    expect(goFileMode(0o041777)).toBe(GO_MODE.dir + GO_MODE.sticky + 0o777);
    expect(goFileMode(0o020666)).toBe(GO_MODE.device + GO_MODE.charDevice + 0o666);
    expect(goFileMode(0o060660)).toBe(GO_MODE.device + 0o660);
    expect(goFileMode(0o010600)).toBe(GO_MODE.namedPipe + 0o600);
    expect(goFileMode(0o140755)).toBe(GO_MODE.socket + 0o755);
  });
});

describe('path stat header', () => {
  it('formats times like Go (RFC 3339, UTC, fraction trimmed)', () => {
    expect(goTime(1_700_000_000_000_000_000n)).toBe('2023-11-14T22:13:20Z');
    expect(goTime(1_700_000_000_120_000_000n)).toBe('2023-11-14T22:13:20.12Z');
    expect(goTime(1_700_000_000_000_000_001n)).toBe('2023-11-14T22:13:20.000000001Z');
  });

  it('round-trips through base64 JSON with Docker field names', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gps-'));
    try {
      const f = path.join(dir, 'f');
      fs.writeFileSync(f, 'hello');
      fs.chmodSync(f, 0o640);
      const s = pathStat('f', fs.lstatSync(f, { bigint: true }), '');
      const header = encodePathStat(s);
      expect(header).toMatch(/^[A-Za-z0-9+/]+=*$/);
      const back = decodePathStat(header);
      expect(back).toEqual({ name: 'f', size: 5, mode: 0o640, mtime: s.mtime, linkTarget: '' });
      expect(Object.keys(JSON.parse(Buffer.from(header, 'base64').toString()))).toEqual(['name', 'size', 'mode', 'mtime', 'linkTarget']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
