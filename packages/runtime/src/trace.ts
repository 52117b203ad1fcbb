const enabled = process.env.GANTRY_TRACE === '1';

/**
 * Start-up tracing for benchmarks: `GANTRY_TRACE=1` prints milestones to stderr as
 * `trace <pid> <label> <ms since process start> cpu <CPU ms so far> at <epoch ms>`
 * (`bench/runtime-trace.mjs` collects them into a table or a Chrome trace). Off, it loads nothing:
 * perf_hooks is only required when tracing (the stage pays for every module it loads).
 */
export function trace(label: string): void {
  if (!enabled) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily: the stage pays for every module it loads
  const { performance } = require('node:perf_hooks') as typeof import('node:perf_hooks');
  const cpu = process.cpuUsage();
  const now = performance.now();
  process.stderr.write(
    `trace ${process.pid} ${label} ${now.toFixed(1)} cpu ${((cpu.user + cpu.system) / 1000).toFixed(1)} at ${(performance.timeOrigin + now).toFixed(1)}\n`,
  );
}
