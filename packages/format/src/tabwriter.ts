/**
 * Go's text/tabwriter as docker uses it (`NewWriter(out, 10, 1, 3, ' ', 0)`): tab-terminated
 * cells, aligned per column block (consecutive lines that have a cell in that column), each
 * column as wide as its widest cell plus `padding`, at least `minwidth`. The text after a line's
 * last tab is not part of a column and is not padded. Widths count runes, as Go's does.
 */

export interface TabwriterOptions {
  minwidth: number;
  tabwidth: number;
  padding: number;
  padchar: string;
  /** Right-align cells (Go's AlignRight flag). */
  alignRight?: boolean;
  /** Give columns whose cells are all empty no width (Go's DiscardEmptyColumns). */
  discardEmptyColumns?: boolean;
  /** Print '|' between columns (Go's Debug flag). */
  debug?: boolean;
}

/** docker's table writer settings. */
export const DOCKER_TABWRITER: TabwriterOptions = { minwidth: 10, tabwidth: 1, padding: 3, padchar: ' ' };

function runes(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Align `text` (the whole output: cells separated by \t, lines by \n). */
export function tabwrite(text: string, opts: TabwriterOptions = DOCKER_TABWRITER): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];

  const padding = (textw: number, cellw: number): string => {
    if (opts.padchar === '\t') {
      // tabs: round the cell up to a multiple of tabwidth
      const tw = opts.tabwidth;
      if (tw === 0) return '';
      const w = Math.ceil(cellw / tw) * tw;
      return '\t'.repeat(Math.ceil((w - textw) / tw));
    }
    return opts.padchar.repeat(Math.max(cellw - textw, 0));
  };

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i];
      let s = '';
      line.forEach((c, j) => {
        const w = runes(c);
        if (j > 0 && opts.debug) s += '|';
        if (j < widths.length) {
          if (opts.alignRight) s += padding(w, widths[j]) + c;
          else s += c + padding(w, widths[j]);
        } else s += c;
      });
      out.push(s);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t].length - 1) continue;
      // a cell in this column: this line starts a column block
      writeLines(line0, t);
      line0 = t;
      let width = opts.minwidth;
      let discardable = true;
      for (; t < line1; t++) {
        const line = lines[t];
        if (column >= line.length - 1) break;
        const w = runes(line[column]) + opts.padding;
        if (w > width) width = w;
        if (w > opts.padding) discardable = false;
      }
      if (discardable && opts.discardEmptyColumns) width = 0;
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('\n');
}
