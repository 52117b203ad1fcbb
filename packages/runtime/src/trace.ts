import { performance } from 'node:perf_hooks';

const enabled = process.env.GANTRY_TRACE === '1';

/** Start-up tracing for benchmarks: `GANTRY_TRACE=1` prints milestones (ms since process start) to stderr. */
export function trace(label: string): void {
  if (enabled) process.stderr.write(`trace ${process.pid} ${label} ${performance.now().toFixed(1)}\n`);
}
