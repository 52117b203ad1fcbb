/**
 * How a metadata instruction (expanded) changes the image config, and the history line each
 * step leaves (`docker history`'s CREATED BY), as dockerd's classic builder writes them.
 */
import * as path from 'node:path';
import type { Instruction } from '@gantry/dockerfile';
import type { OciContainerConfig } from '../images/catalog';
import { BuildError } from './output';

export type MetadataInstruction = Exclude<Instruction, { kind: 'FROM' | 'RUN' | 'COPY' | 'ADD' }>;

const PORT = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i;

function setEnv(env: string[], key: string, value: string): string[] {
  const out = env.filter((e) => e.split('=')[0] !== key);
  const i = env.findIndex((e) => e.split('=')[0] === key);
  if (i >= 0) {
    out.splice(i, 0, `${key}=${value}`);
    return out;
  }
  return [...out, `${key}=${value}`];
}

/** The argv a RUN/CMD/ENTRYPOINT line means under `shell` (exec form as it is). */
export function commandArgv(c: { form: 'exec'; argv: string[] } | { form: 'shell'; command: string }, shell: string[]): string[] {
  return c.form === 'exec' ? [...c.argv] : [...shell, c.command];
}

/**
 * The config after `ins`. `cmdSet`: whether this stage set CMD already (an ENTRYPOINT clears an
 * inherited CMD, as Docker does).
 */
export function applyMetadata(config: OciContainerConfig, ins: MetadataInstruction, cmdSet: boolean): OciContainerConfig {
  const c: OciContainerConfig = structuredClone(config);
  const shell = c.Shell ?? ['/bin/sh', '-c'];
  switch (ins.kind) {
    case 'ENV':
      for (const p of ins.pairs) c.Env = setEnv(c.Env ?? [], p.key, p.value);
      break;
    case 'LABEL':
      c.Labels = { ...(c.Labels ?? {}) };
      for (const p of ins.pairs) c.Labels[p.key] = p.value;
      break;
    case 'CMD':
      c.Cmd = commandArgv(ins.command, shell);
      break;
    case 'ENTRYPOINT':
      c.Entrypoint = commandArgv(ins.command, shell);
      if (!cmdSet) c.Cmd = null;
      break;
    case 'SHELL':
      c.Shell = [...ins.shell];
      break;
    case 'WORKDIR':
      if (ins.path === '') throw new BuildError('WORKDIR cannot be empty');
      c.WorkingDir = path.posix.resolve(c.WorkingDir || '/', ins.path);
      break;
    case 'USER':
      c.User = ins.user;
      break;
    case 'EXPOSE': {
      const ports = { ...(c.ExposedPorts ?? {}) };
      for (const p of ins.ports) {
        const m = PORT.exec(p);
        if (!m) throw new BuildError(`invalid containerPort: ${p}`);
        const lo = Number(m[1]);
        const hi = m[2] ? Number(m[2]) : lo;
        if (hi < lo || hi > 65535) throw new BuildError(`invalid range: ${p}`);
        for (let n = lo; n <= hi; n++) ports[`${n}/${(m[3] ?? 'tcp').toLowerCase()}`] = {};
      }
      c.ExposedPorts = ports;
      break;
    }
    case 'VOLUME':
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const v of ins.volumes) {
        if (v.trim() === '') throw new BuildError('VOLUME specified can not be an empty string');
        c.Volumes[v] = {};
      }
      break;
    case 'STOPSIGNAL':
      c.StopSignal = ins.signal;
      break;
    case 'HEALTHCHECK': {
      const h = ins.health;
      c.Healthcheck = {
        Test: [...h.test],
        ...(h.interval ? { Interval: h.interval } : {}),
        ...(h.timeout ? { Timeout: h.timeout } : {}),
        ...(h.startPeriod ? { StartPeriod: h.startPeriod } : {}),
        ...(h.startInterval ? { StartInterval: h.startInterval } : {}),
        ...(h.retries ? { Retries: h.retries } : {}),
      };
      break;
    }
    case 'ONBUILD':
      c.OnBuild = [...(c.OnBuild ?? []), ins.expression];
      break;
    case 'ARG':
    case 'MAINTAINER':
      break;
  }
  return c;
}

const quote = (s: string) => (/[\s"]/.test(s) ? JSON.stringify(s) : s);

/** The CREATED BY of a metadata step: `/bin/sh -c #(nop)  CMD ["sh"]` (two spaces where Docker writes two). */
export function metadataCreatedBy(ins: MetadataInstruction, config: OciContainerConfig): string {
  const nop = (text: string) => `/bin/sh -c #(nop) ${text}`;
  switch (ins.kind) {
    case 'ENV':
      return nop(` ENV ${ins.pairs.map((p) => `${p.key}=${quote(p.value)}`).join(' ')}`);
    case 'LABEL':
      return nop(` LABEL ${ins.pairs.map((p) => `${p.key}=${quote(p.value)}`).join(' ')}`);
    case 'CMD':
      return nop(` CMD ${JSON.stringify(config.Cmd ?? [])}`);
    case 'ENTRYPOINT':
      return nop(` ENTRYPOINT ${JSON.stringify(config.Entrypoint ?? [])}`);
    case 'SHELL':
      return nop(` SHELL ${JSON.stringify(ins.shell)}`);
    case 'WORKDIR':
      return nop(`WORKDIR ${config.WorkingDir ?? ''}`);
    case 'USER':
      return nop(` USER ${ins.user}`);
    case 'EXPOSE':
      return nop(` EXPOSE ${ins.ports.join(' ')}`);
    case 'VOLUME':
      return nop(` VOLUME ${JSON.stringify(ins.volumes)}`);
    case 'STOPSIGNAL':
      return nop(` STOPSIGNAL ${ins.signal}`);
    case 'HEALTHCHECK':
      return nop(` HEALTHCHECK &{${JSON.stringify(ins.health.test)}}`);
    case 'ONBUILD':
      return nop(` ONBUILD ${ins.expression}`);
    case 'ARG':
      return nop(` ARG ${ins.args.map((a) => (a.value === undefined ? a.key : `${a.key}=${a.value}`)).join(' ')}`);
    case 'MAINTAINER':
      return nop(` MAINTAINER ${ins.maintainer}`);
  }
}
