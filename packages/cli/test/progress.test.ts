/** docker's JSON-message rendering, from a recorded pull stream: redrawn per-layer lines on a terminal, plain lines piped. */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { JsonMessage } from '@gantry/client';
import { goSeconds, progressBar, ProgressPrinter } from '../src/progress';

const recorded: JsonMessage[] = fs
  .readFileSync(join(__dirname, 'fixtures', 'pull-two-layers.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as JsonMessage);

function render(tty: boolean, width = 200): string {
  let out = '';
  const p = new ProgressPrinter({ write: (s: string) => (out += s) }, { tty, width, colour: false, now: () => 102 });
  for (const m of recorded) p.write(m);
  return out;
}

describe('progress rendering', () => {
  it('piped: no bars and no escapes, one line per message that is not a progress update', () => {
    expect(render(false)).toBe(
      [
        'v1: Pulling from library/app',
        'aaaaaaaaaaaa: Pulling fs layer',
        'bbbbbbbbbbbb: Pulling fs layer',
        'bbbbbbbbbbbb: Download complete',
        'aaaaaaaaaaaa: Pull complete',
        'Digest: sha256:0123',
        'Status: Downloaded newer image for app:v1',
        '',
      ].join('\n'),
    );
  });

  it('on a terminal: each layer keeps its line, redrawn in place with a bar, sizes and time left', () => {
    const out = render(true);
    const E = '\x1b[';
    // the first layer's line: a new line, cursor up 2 (two layers), erase, draw, back down
    expect(out).toContain(`${E}2A${E}2K\raaaaaaaaaaaa: Downloading [=================>                                 ]    1.2MB/3.4MB 3s\r${E}2B`);
    expect(out).toContain(`${E}1A${E}2K\rbbbbbbbbbbbb: Downloading [=========================>                         ]     500B/1kB 2s\r${E}1B`);
    expect(out.endsWith('Digest: sha256:0123\nStatus: Downloaded newer image for app:v1\n')).toBe(true);
    // replaying the escapes on a screen leaves one final line per layer
    expect(screen(out)).toEqual([
      'v1: Pulling from library/app',
      'aaaaaaaaaaaa: Pull complete',
      'bbbbbbbbbbbb: Download complete',
      'Digest: sha256:0123',
      'Status: Downloaded newer image for app:v1',
    ]);
  });

  it('a narrow terminal drops the bar (docker shows it only above 110 columns)', () => {
    expect(progressBar({ current: 50, total: 100 }, 80, 0)).toBe('     50B/100B');
    expect(progressBar({ current: 50, total: 100 }, 111, 0)).toBe(`[${'='.repeat(25)}>${' '.repeat(25)}]      50B/100B`);
    expect(progressBar({ current: 0, total: 0 }, 200, 0)).toBe('');
    expect(progressBar({ current: 2048 }, 200, 0)).toBe(' 2.048kB');
  });

  it('time left is Go duration text', () => {
    expect([goSeconds(0), goSeconds(42.9), goSeconds(65), goSeconds(7203)]).toEqual(['0s', '42s', '1m5s', '2h0m3s']);
  });
});

/** A tiny terminal: applies \n, \r, ESC[nA, ESC[nB and ESC[2K to a grid of lines. */
function screen(s: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  for (let i = 0; i < s.length; i++) {
    // eslint-disable-next-line no-control-regex -- the escapes are what this replays
    const esc = /^\x1b\[(\d*)([ABK])/.exec(s.slice(i));
    if (esc !== null) {
      const n = Number(esc[1] || '1');
      if (esc[2] === 'A') row = Math.max(0, row - n);
      else if (esc[2] === 'B') row += n;
      else lines[row] = '';
      while (lines.length <= row) lines.push('');
      i += esc[0].length - 1;
      continue;
    }
    const c = s[i]!;
    if (c === '\n') {
      row++;
      col = 0;
      while (lines.length <= row) lines.push('');
    } else if (c === '\r') col = 0;
    else {
      const l = lines[row]!.padEnd(col);
      lines[row] = l.slice(0, col) + c + l.slice(col + 1);
      col++;
    }
  }
  return lines.map((l) => l.trimEnd()).filter((l) => l !== ''); // docker leaves a space after a status without a bar
}
