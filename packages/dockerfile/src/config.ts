/**
 * What each metadata instruction does to the image config, as the classic builder's dispatchers
 * do it: ENV (replacing a variable of the same name), LABEL, EXPOSE (`80` is `80/tcp`, ranges
 * are expanded), VOLUME, CMD, ENTRYPOINT (which drops an inherited CMD unless the stage set one),
 * WORKDIR (relative to the previous one), USER, STOPSIGNAL (checked), HEALTHCHECK, ONBUILD,
 * SHELL, MAINTAINER (the image's author). RUN, COPY, ADD, ARG and FROM leave the config alone.
 */
import type { ContainerConfig, HealthcheckConfig, ImageConfig } from '@gantry/oci';
import { InstructionValueError } from './errors';
import { expandInstruction, type Env } from './expand';
import { cleanPath } from './glob';
import type { CommandLine, HealthConfig, Instruction } from './instructions';
import { checkSignal } from './signals';

/** The shell of shell-form commands when no SHELL instruction set one. */
export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/** What a stage remembers between instructions: whether it set CMD itself (ENTRYPOINT keeps that CMD). */
export interface ApplyState {
  cmdSet: boolean;
}

export interface ApplyOptions {
  escapeChar?: string;
  /** The stage's state; ENTRYPOINT reads it, CMD sets it. Without one, ENTRYPOINT always drops CMD. */
  state?: ApplyState;
}

/**
 * A command line as the builder runs or stores it: the exec form as is, the shell form after
 * the shell (`SHELL`, or `/bin/sh -c`). A bare shell-form instruction (`CMD` with nothing) is the
 * shell alone, as in Docker.
 */
export function resolveCommand(command: CommandLine, shell: readonly string[] = DEFAULT_SHELL): string[] {
  if (command.form === 'exec') return [...command.argv];
  return command.command === '' ? [...shell] : [...shell, command.command];
}

/**
 * The config after `instr` (as parsed; it is expanded here with `env`, the environment before
 * the instruction: the config's Env and the build args in scope). Returns a new config; throws
 * InstructionValueError or ShellExpansionError for values Docker refuses.
 */
export function applyToConfig(config: ImageConfig, instr: Instruction, env: Env, opts: ApplyOptions = {}): ImageConfig {
  const i = expandInstruction(instr, env, opts.escapeChar);
  if (i.kind === 'MAINTAINER') return { ...config, author: i.maintainer };
  const before = config.config ?? {};
  const c: ContainerConfig = { ...before };
  const shell = c.Shell ?? DEFAULT_SHELL;
  switch (i.kind) {
    case 'ENV': {
      const vars = [...(c.Env ?? [])];
      for (const { key, value } of i.pairs) {
        const at = vars.findIndex((v) => v.split('=', 1)[0] === key);
        if (at >= 0) vars[at] = `${key}=${value}`;
        else vars.push(`${key}=${value}`);
      }
      c.Env = vars;
      break;
    }
    case 'LABEL':
      c.Labels = { ...(c.Labels ?? {}) };
      for (const { key, value } of i.pairs) c.Labels[key] = value;
      break;
    case 'EXPOSE': {
      const ports = { ...(c.ExposedPorts ?? {}) };
      for (const p of i.ports) for (const key of parsePortSpec(p)) ports[key] = {};
      c.ExposedPorts = ports;
      break;
    }
    case 'VOLUME': {
      const vols = { ...(c.Volumes ?? {}) };
      for (const v of i.volumes) {
        if (v === '') throw new InstructionValueError('VOLUME specified can not be an empty string');
        vols[v] = {};
      }
      c.Volumes = vols;
      break;
    }
    case 'CMD':
      c.Cmd = resolveCommand(i.command, shell);
      delete c.ArgsEscaped;
      if (opts.state && !(i.command.form === 'exec' ? i.command.argv.length === 0 : i.command.command === '')) opts.state.cmdSet = true;
      break;
    case 'ENTRYPOINT': {
      const empty = i.command.form === 'exec' ? i.command.argv.length === 0 : i.command.command === '';
      c.Entrypoint = empty ? null : resolveCommand(i.command, shell);
      delete c.ArgsEscaped;
      if (!opts.state?.cmdSet) c.Cmd = null;
      break;
    }
    case 'WORKDIR':
      c.WorkingDir = normalizeWorkdir(c.WorkingDir ?? '', i.path);
      break;
    case 'USER':
      c.User = i.user;
      break;
    case 'STOPSIGNAL':
      checkSignal(i.signal);
      c.StopSignal = i.signal;
      break;
    case 'HEALTHCHECK':
      c.Healthcheck = healthcheckConfig(i.health);
      break;
    case 'ONBUILD':
      c.OnBuild = [...(c.OnBuild ?? []), i.expression];
      break;
    case 'SHELL':
      c.Shell = [...i.shell];
      break;
    default:
      return config;
  }
  return { ...config, config: c };
}

/** WORKDIR: an absolute path cleaned, a relative one joined to the current directory. */
function normalizeWorkdir(current: string, requested: string): string {
  if (requested === '') throw new InstructionValueError('cannot normalize nothing');
  return requested.startsWith('/') ? cleanPath(requested) : cleanPath(`/${current}/${requested}`);
}

/** The image config form of a HEALTHCHECK (zero values left out, as Docker's JSON omits them). */
export function healthcheckConfig(h: HealthConfig): HealthcheckConfig {
  const out: HealthcheckConfig = { Test: [...h.test] };
  if (h.interval) out.Interval = h.interval;
  if (h.timeout) out.Timeout = h.timeout;
  if (h.startPeriod) out.StartPeriod = h.startPeriod;
  if (h.startInterval) out.StartInterval = h.startInterval;
  if (h.retries) out.Retries = h.retries;
  return out;
}

/**
 * EXPOSE's port spec as Docker's nat.ParsePortSpec reads it: `[ip:[hostPort]:]port[-end][/proto]`,
 * proto tcp (default), udp or sctp; the keys `port/proto` of ExposedPorts.
 */
function parsePortSpec(raw: string): string[] {
  const parts = raw.split(':');
  const containerPort = parts[parts.length - 1]!;
  const [proto, port] = splitProtoPort(containerPort);
  if (port === '') throw new InstructionValueError(`no port specified: ${raw}<empty>`);
  const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(port);
  const start = m ? Number(m[1]) : NaN;
  const end = m?.[2] !== undefined ? Number(m[2]) : start;
  if (!m || start > 65535 || end > 65535 || end < start) throw new InstructionValueError(`invalid containerPort: ${port}`);
  const p = proto.toLowerCase();
  if (p !== 'tcp' && p !== 'udp' && p !== 'sctp') throw new InstructionValueError(`invalid proto: ${proto}`);
  const out: string[] = [];
  for (let n = start; n <= end; n++) out.push(`${n}/${p}`);
  return out;
}

function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw === '' || parts[0] === '') return ['', ''];
  if (parts.length === 1 || parts[1] === '') return ['tcp', parts[0]!];
  return [parts[1]!, parts[0]!];
}
