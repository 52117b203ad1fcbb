/**
 * `docker import --change`: Dockerfile instructions applied to the new image's config (CMD,
 * ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR).
 */
import * as path from 'node:path';
import { errdefs } from '@gantry/linux';
import type { OciContainerConfig } from './catalog';

/** "JSON array" form, or undefined when the text is not one. */
function jsonArray(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // shell form
  }
  return undefined;
}

/** Words of `KEY=VALUE KEY2="a b"` with quotes and backslashes honoured. */
function words(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      any = true;
    } else if (c === '\\' && i + 1 < text.length) cur += text[++i];
    else if (/\s/.test(c)) {
      if (cur || any) out.push(cur);
      cur = '';
      any = false;
    } else cur += c;
  }
  if (quote) throw errdefs.invalidArgument(`unmatched quote in ${JSON.stringify(text)}`);
  if (cur || any) out.push(cur);
  return out;
}

/** ENV/LABEL arguments: `K=V ...`, or the legacy `K V` (the rest of the line is the value). */
function pairs(instr: string, rest: string, allowLegacy: boolean): [string, string][] {
  const first = /^\S+/.exec(rest)?.[0] ?? '';
  if (!first.includes('=')) {
    if (!allowLegacy) throw errdefs.invalidArgument(`${instr} requires key=value arguments`);
    const value = rest.slice(first.length).trim();
    if (!first || !value) throw errdefs.invalidArgument(`${instr} requires two arguments`);
    return [[first, words(value).join(' ')]];
  }
  return words(rest).map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw errdefs.invalidArgument(`${instr} names can not be blank: ${JSON.stringify(w)}`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

function command(rest: string, shell: string[]): string[] {
  return jsonArray(rest) ?? [...shell, rest];
}

export function applyChanges(config: OciContainerConfig, changes: readonly string[]): OciContainerConfig {
  const c: OciContainerConfig = { ...config };
  for (const change of changes
    .flatMap((x) => x.split('\n'))
    .map((x) => x.trim())
    .filter(Boolean)) {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(change)!;
    const instr = m[1]!.toUpperCase();
    const rest = m[2]!.trim();
    const shell = c.Shell ?? ['/bin/sh', '-c'];
    switch (instr) {
      case 'CMD':
        c.Cmd = command(rest, shell);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = rest === '' ? null : command(rest, shell);
        break;
      case 'SHELL': {
        const a = jsonArray(rest);
        if (!a) throw errdefs.invalidArgument('SHELL requires the arguments to be in JSON form');
        c.Shell = a;
        break;
      }
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of pairs(instr, rest, true)) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs(instr, rest, false)) };
        break;
      case 'WORKDIR':
        if (!rest) throw errdefs.invalidArgument('WORKDIR requires exactly one argument');
        c.WorkingDir = path.posix.isAbsolute(rest) ? path.posix.normalize(rest) : path.posix.join(c.WorkingDir || '/', rest);
        break;
      case 'USER':
        if (!rest) throw errdefs.invalidArgument('USER requires exactly one argument');
        c.User = rest;
        break;
      case 'EXPOSE': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of rest.split(/\s+/).filter(Boolean)) {
          const pm = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
          if (!pm) throw errdefs.invalidArgument(`invalid containerPort: ${p}`);
          const lo = Number(pm[1]);
          const hi = pm[2] ? Number(pm[2]) : lo;
          if (lo < 1 || hi > 65535 || hi < lo) throw errdefs.invalidArgument(`invalid containerPort: ${p}`);
          for (let n = lo; n <= hi; n++) ports[`${n}/${(pm[3] ?? 'tcp').toLowerCase()}`] = {};
        }
        c.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(c.Volumes ?? {}) };
        for (const v of jsonArray(rest) ?? rest.split(/\s+/).filter(Boolean)) vols[v] = {};
        c.Volumes = vols;
        break;
      }
      case 'STOPSIGNAL':
        if (!rest) throw errdefs.invalidArgument('STOPSIGNAL requires exactly one argument');
        c.StopSignal = rest;
        break;
      case 'ONBUILD':
        if (!rest) throw errdefs.invalidArgument('ONBUILD requires at least one argument');
        c.OnBuild = [...(c.OnBuild ?? []), rest];
        break;
      case 'HEALTHCHECK': {
        if (/^NONE$/i.test(rest)) c.Healthcheck = { Test: ['NONE'] };
        else {
          const hm = /^CMD\s+([\s\S]+)$/i.exec(rest);
          if (!hm) throw errdefs.invalidArgument('HEALTHCHECK requires NONE or CMD <command> (options are not supported here)');
          const a = jsonArray(hm[1]!.trim());
          c.Healthcheck = { Test: a ? ['CMD', ...a] : ['CMD-SHELL', hm[1]!.trim()] };
        }
        break;
      }
      default:
        throw errdefs.invalidArgument(`${m[1]} is not a valid change command`);
    }
  }
  return c;
}
