export * from './constants';
export * from './errors';
export { fileKindOfMode } from './file-kind';
export type { Sys, CapabilitySets, FileKind, FsStat, SeccompFilter, CompiledSeccomp, SeccompRule, SeccompArgRule, BpfProgram, SpawnRequest } from './sys';
export { FakeSys, FakeExecve, FakeExit } from './fake-sys';
export type { SysCall, FakeBpfProgram, FakeMount } from './fake-sys';

import type { Sys } from './sys';

let real: Sys | undefined;

/** The process-wide real seam, created on first use so koffi loads only when needed. */
export function linuxSys(): Sys {
  if (!real) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { LinuxSys } = require('./linux-sys') as typeof import('./linux-sys');
    real = new LinuxSys();
  }
  return real;
}

export { loadSeccompFilter, preloadSeccomp, seccompFeatures } from './seccomp';
export type { SeccompFeatures } from './seccomp';
export type { SeccompActionName, SeccompOperatorName } from './sys';
export * from './confine';
export { BpfLoadError } from './bpf';
export * from './mount';
export * from './store';
export { Logger } from './log';
export type { Level } from './log';
export { parseFlags, flagsHelp, commandLineOrExit, FlagError } from './flags';
export type { FlagDef, FlagDefs, FlagValues, CommandLine, CommandSpec, StringFlag, BooleanFlag } from './flags';
export * as errdefs from './errdefs';
export { KindError } from './errdefs';
export type { ErrorKind } from './errdefs';
export { span, traced, traceBoot, traceMark, traceProcess, traceEnv, traceFd, traceEnabled, setTraceDir, TRACE_ENV } from './trace';
export type { Span, TraceArgs } from './trace';
export { mergeTraceDir, readTraceFile } from './trace-merge';
export type { TraceEvent, MergeOptions } from './trace-merge';
export { deviceMajor, deviceMinor, deviceNumbers, devicesAt, DeviceLookupError, hostDevice, hostDevicesUnder } from './devices';
export type { HostDevice } from './devices';
