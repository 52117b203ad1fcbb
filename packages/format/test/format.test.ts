import {
  bytesSize,
  containerNames,
  containerStatus,
  displayablePorts,
  DockerFormat,
  ellipsis,
  formatCommand,
  formatFloat,
  humanDuration,
  humanSize,
  humanSizeWithPrecision,
  tabwrite,
  TemplateParseError,
  timeAgo,
  truncateId,
} from '../src';

describe('tabwriter (Go text/tabwriter)', () => {
  test('the package documentation example: b and c are in distinct column blocks, d and e in none', () => {
    const out = tabwrite('aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee', { minwidth: 0, tabwidth: 8, padding: 0, padchar: ' ', debug: true });
    expect(out).toBe('aaaa|bbb|d\naa  |b  |dd\na   |\naa  |cccc|eee');
  });
  test("docker's settings: minwidth 10, padding 3", () => {
    expect(tabwrite('CONTAINER ID\tIMAGE\tNAMES\nabc\tbusybox\tweb\n')).toBe('CONTAINER ID   IMAGE     NAMES\nabc            busybox   web\n');
  });
  test('the last cell of a line is not padded; a line without tabs ends the block', () => {
    expect(tabwrite('a\tb\nlong line\nccc\td\n')).toBe('a         b\nlong line\nccc       d\n');
  });
  test('cells count runes, not bytes', () => {
    expect(tabwrite('héllo\tx\nab\ty', { minwidth: 0, tabwidth: 1, padding: 1, padchar: ' ' })).toBe('héllo x\nab    y');
  });
  test('right alignment and padchar', () => {
    expect(tabwrite('a\tb\naaa\tb\n', { minwidth: 0, tabwidth: 1, padding: 1, padchar: '.', alignRight: true })).toBe('...ab\n.aaab\n');
  });
  test('empty columns can be discarded', () => {
    expect(tabwrite('\tx\n\ty', { minwidth: 0, tabwidth: 1, padding: 1, padchar: ' ', discardEmptyColumns: true })).toBe('x\ny');
  });
});

describe('go-units', () => {
  test.each([
    [0, 3, '0B'],
    [999, 3, '999B'],
    [1000, 3, '1kB'],
    [12345678, 3, '12.3MB'],
    [999_900, 3, '1e+03kB'],
    [2_746_000, 4, '2.746MB'],
    [1e12, 3, '1TB'],
    [1e27, 3, '1e+03YB'],
  ])('humanSizeWithPrecision(%d, %d) = %s', (size, p, want) => {
    expect(humanSizeWithPrecision(size, p)).toBe(want);
  });
  test('humanSize is 4 digits, bytesSize binary', () => {
    expect(humanSize(123456789)).toBe('123.5MB');
    expect(bytesSize(45056)).toBe('44KiB');
    expect(bytesSize(1.5 * 1024 ** 3)).toBe('1.5GiB');
    expect(bytesSize(1023)).toBe('1023B');
  });
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  test.each([
    [500, 'Less than a second'],
    [1 * s, '1 second'],
    [45 * s, '45 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [3 * m, '3 minutes'],
    [59 * m, '59 minutes'],
    [60 * m, 'About an hour'],
    [89 * m, 'About an hour'],
    [2 * h, '2 hours'],
    [47 * h, '47 hours'],
    [2 * d, '2 days'],
    [13 * d, '13 days'],
    [21 * d, '3 weeks'],
    [60 * d, '2 months'],
    [120 * d, '4 months'],
    [800 * d, '2 years'],
  ])('humanDuration(%d) = %s', (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });
  test('formatFloat as strconv', () => {
    expect(formatFloat(1e21, 'g', -1)).toBe('1e+21');
    expect(formatFloat(100000, 'g', -1)).toBe('100000');
    expect(formatFloat(1000000, 'g', -1)).toBe('1e+06');
    expect(formatFloat(0.0001, 'g', -1)).toBe('0.0001');
    expect(formatFloat(0.00001, 'g', -1)).toBe('1e-05');
    expect(formatFloat(2.5, 'f', 0)).toBe('2');
    expect(formatFloat(-1.5, 'e', 2)).toBe('-1.50e+00');
    expect(formatFloat(NaN, 'g', -1)).toBe('NaN');
    // exact ties round to even, as Go's strconv (JS rounds them up)
    expect(formatFloat(120.5, 'g', 3)).toBe('120');
    expect(formatFloat(0.125, 'f', 2)).toBe('0.12');
    expect(formatFloat(0.375, 'f', 2)).toBe('0.38');
    expect(formatFloat(0.6, 'f', 0)).toBe('1');
    expect(formatFloat(0.001, 'f', 1)).toBe('0.0');
    expect(formatFloat(9.999, 'f', 2)).toBe('10.00');
    expect(formatFloat(1e22, 'f', 1)).toBe('10000000000000000000000.0');
  });
});

describe("docker's display rules", () => {
  test('IDs', () => {
    expect(truncateId('sha256:0123456789abcdef0123')).toBe('0123456789ab');
    expect(truncateId('0123456789abcdef')).toBe('0123456789ab');
    expect(truncateId('short')).toBe('short');
  });
  test('ellipsis and commands', () => {
    expect(ellipsis('abcdef', 4)).toBe('abc…');
    expect(ellipsis('abc', 4)).toBe('abc');
    expect(ellipsis('abc', 1)).toBe('a');
    expect(ellipsis('abc', 0)).toBe('');
    expect(ellipsis('你好世界', 5)).toBe('你好…');
    expect(formatCommand('sh -c "while true; do sleep 1; done"')).toBe('"sh -c \\"while true; …"');
    expect(formatCommand('nginx -g daemon off;', false)).toBe('"nginx -g daemon off;"');
  });
  test('ports', () => {
    expect(displayablePorts([])).toBe('');
    expect(
      displayablePorts([
        { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
        { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      ]),
    ).toBe('0.0.0.0:8080->80/tcp, :::8080->80/tcp');
    expect(
      displayablePorts([
        { PrivatePort: 444, Type: 'tcp' },
        { PrivatePort: 443, Type: 'tcp' },
        { PrivatePort: 53, Type: 'udp' },
        { IP: '0.0.0.0', PrivatePort: 9001, PublicPort: 9001, Type: 'tcp' },
        { IP: '0.0.0.0', PrivatePort: 9000, PublicPort: 9000, Type: 'tcp' },
        { IP: '0.0.0.0', PrivatePort: 9005, PublicPort: 9005, Type: 'tcp' },
      ]),
      // docker's order: a group closed by a gap comes first, then the open groups in creation order
    ).toBe('0.0.0.0:9000-9001->9000-9001/tcp, 53/udp, 443-444/tcp, 0.0.0.0:9005->9005/tcp');
  });
  const now = Date.parse('2026-01-01T12:00:00Z');
  test.each([
    [{ Running: true, StartedAt: '2026-01-01T11:57:00Z' }, 'Up 3 minutes'],
    [{ Running: true, Paused: true, StartedAt: '2026-01-01T11:57:00Z' }, 'Up 3 minutes (Paused)'],
    [{ Running: true, StartedAt: '2026-01-01T10:00:00Z', Health: { Status: 'healthy' } }, 'Up 2 hours (healthy)'],
    [{ Running: true, StartedAt: '2026-01-01T11:59:59Z', Health: { Status: 'starting' } }, 'Up 1 second (health: starting)'],
    [{ Running: true, Restarting: true, ExitCode: 1, FinishedAt: '2026-01-01T11:59:55Z' }, 'Restarting (1) 5 seconds ago'],
    [{ Status: 'removing' }, 'Removal In Progress'],
    [{ Dead: true, StartedAt: '2026-01-01T11:00:00Z' }, 'Dead'],
    [{ StartedAt: '0001-01-01T00:00:00Z' }, 'Created'],
    [{ StartedAt: '2026-01-01T11:00:00Z', FinishedAt: '2026-01-01T11:59:55Z', ExitCode: 0 }, 'Exited (0) 5 seconds ago'],
  ])('status %j', (st, want) => {
    expect(containerStatus(st, now)).toBe(want);
  });
  test('created ago and names', () => {
    expect(timeAgo('2026-01-01T10:00:00Z', now)).toBe('2 hours ago');
    expect(timeAgo(now - 1000, now)).toBe('1 second ago');
    expect(containerNames(['/web', '/other/link'])).toBe('web');
    expect(containerNames(['/web', '/other/link'], false)).toBe('web,other/link');
  });
});

describe('--format handling', () => {
  class Row {
    constructor(
      private readonly id: string,
      readonly Names: string,
    ) {}
    get ID(): string {
      return truncateId(this.id);
    }
    Label(k: string): string {
      return k === 'app' ? 'demo' : '';
    }
  }
  const header = { ID: 'CONTAINER ID', Names: 'NAMES' };
  const rows = [new Row('0123456789abcdef', 'web'), new Row('fedcba9876543210', 'a-much-longer-name')];

  test('table with header and alignment', () => {
    expect(DockerFormat.parse('table {{.ID}}\\t{{.Names}}').render(rows, header)).toBe(
      'CONTAINER ID   NAMES\n0123456789ab   web\nfedcba987654   a-much-longer-name\n',
    );
  });
  test('header functions keep the header text; a failing header cell stops the header row', () => {
    expect(DockerFormat.parse('table {{upper .Names}}\\t{{.Label "app"}}').render(rows, header)).toBe(
      'NAMES                \nWEB                  demo\nA-MUCH-LONGER-NAME   demo\n',
    );
  });
  test('plain formats are not aligned and have no header', () => {
    expect(DockerFormat.parse('{{.ID}}\\t{{.Names}}').render(rows, header)).toBe('0123456789ab\tweb\nfedcba987654\ta-much-longer-name\n');
  });
  test('json and the default table', () => {
    expect(DockerFormat.parse('json').render([{ b: 1, a: 'x' }])).toBe('{"a":"x","b":1}\n');
    const f = DockerFormat.parse('', { defaultTable: 'table {{.ID}}' });
    expect(f.isTable).toBe(true);
    expect(f.render(rows, header)).toBe('CONTAINER ID\n0123456789ab\nfedcba987654\n');
    expect(DockerFormat.parse('table {{.Names}}', { quiet: true }).render(rows)).toBe('0123456789ab\nfedcba987654\n');
  });
  test('an empty list prints only the header', () => {
    expect(DockerFormat.parse('table {{.ID}}\\t{{.Names}}').render([], header)).toBe('CONTAINER ID   NAMES\n');
  });
  test('a bad template is a parse error', () => {
    expect(() => DockerFormat.parse('{{.ID')).toThrow(TemplateParseError);
  });
});
