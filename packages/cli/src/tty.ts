/** Whether an output is a terminal, its width, and colour (only on a terminal, never with NO_COLOR). */

export interface TermInfo {
  /** Redraw progress in place (docker's isTerminal). */
  tty: boolean;
  /** Columns; docker falls back to 200 when it cannot ask the terminal. */
  width: number;
  colour: boolean;
}

interface MaybeTty {
  isTTY?: boolean;
  columns?: number;
}

export function termInfo(out: unknown, env: NodeJS.ProcessEnv): TermInfo {
  const o = (typeof out === 'object' && out !== null ? out : {}) as MaybeTty;
  const tty = o.isTTY === true;
  const width = tty && typeof o.columns === 'number' && o.columns > 0 ? o.columns : 200;
  const noColour = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return { tty, width, colour: tty && !noColour };
}
