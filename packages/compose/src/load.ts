/**
 * Loading a project: the files (given, `COMPOSE_FILE`, or the first of compose.yaml, compose.yml,
 * docker-compose.yml, docker-compose.yaml found here or in a parent, with its override file), the
 * environment (`.env` or `--env-file`, the process environment winning), each file parsed with
 * `yaml`, interpolated, validated against the schema and put in long syntax, `extends` resolved,
 * the files merged, then profiles applied and every service normalised and checked.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { readDotenv } from './dotenv';
import { ComposeError } from './errors';
import { interpolateValue, type Lookup } from './interpolate';
import { mergeFiles, mergeService } from './merge';
import type { NetworkConfig, Project, ServiceConfig, VolumeConfig } from './model';
import { finalService, checkReferences } from './finalize';
import { longSyntax } from './syntax';
import { validateCompose } from './validate';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export interface LoadOptions {
  /** `-f` files, in order (`-` is not supported). */
  files?: string[];
  /** Where to look for the default files (default process.cwd()). */
  cwd?: string;
  /** `--project-directory` (default the first file's directory). */
  projectDirectory?: string;
  /** `-p` */
  projectName?: string;
  /** `--env-file`s (replace `<project dir>/.env`). */
  envFiles?: string[];
  /** `--profile`s (default COMPOSE_PROFILES). */
  profiles?: string[];
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
const OVERRIDE_FILES = ['compose.override.yaml', 'compose.override.yml', 'docker-compose.override.yml', 'docker-compose.override.yaml'];

/** The default file (and its override) in `dir` or the nearest parent that has one. */
export function findComposeFiles(dir: string): string[] {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const main = DEFAULT_FILES.find((f) => fs.existsSync(path.join(d, f)));
    if (main !== undefined) {
      const override = OVERRIDE_FILES.find((f) => fs.existsSync(path.join(d, f)));
      return [path.join(d, main), ...(override === undefined ? [] : [path.join(d, override)])];
    }
    if (path.dirname(d) === d) break;
  }
  throw new ComposeError(`no configuration file provided: not found (looked for ${DEFAULT_FILES.join(', ')} in ${dir} and its parents)`);
}

/** The project name as Compose accepts it: lower case letters, digits, `-` and `_`. */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

/** A file parsed (YAML errors name the line), as a mapping. */
export function parseYaml(text: string, file: string): Obj {
  const doc = parseDocument(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  const err = doc.errors[0];
  if (err !== undefined) {
    const pos = err.linePos?.[0];
    const at = pos === undefined ? '' : `line ${pos.line}, column ${pos.col}: `;
    throw new ComposeError(`invalid YAML: ${at}${err.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? ''}`, file);
  }
  const v: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (v === null || v === undefined) throw new ComposeError('empty compose file', file);
  if (!isObj(v)) throw new ComposeError('top-level object must be a mapping', file);
  return v;
}

interface LoadedFile {
  file: string;
  doc: Obj;
  services: Record<string, ServiceConfig>;
}

class Loader {
  private readonly cache = new Map<string, LoadedFile>();

  constructor(private readonly lookup: Lookup) {}

  /** One file: parsed, interpolated, validated, in long syntax, its extends resolved. */
  load(file: string, baseDir: string): LoadedFile {
    const key = `${file}\0${baseDir}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ComposeError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
    }
    const raw = parseYaml(text, file);
    let doc: Obj;
    try {
      doc = interpolateValue(raw, this.lookup) as Obj;
    } catch (e) {
      if (e instanceof ComposeError) throw new ComposeError(e.message, file);
      throw e;
    }
    validateCompose(doc, file);
    const services: Record<string, ServiceConfig> = {};
    for (const [name, svc] of Object.entries(isObj(doc.services) ? doc.services : {})) {
      try {
        services[name] = longSyntax(isObj(svc) ? svc : {}, baseDir, `services.${name}`);
      } catch (e) {
        if (e instanceof ComposeError) throw new ComposeError(e.message, file);
        throw e;
      }
    }
    const loaded: LoadedFile = { file, doc, services };
    this.cache.set(key, loaded);
    for (const name of Object.keys(services)) services[name] = this.resolveExtends(loaded, name, []);
    return loaded;
  }

  private resolveExtends(f: LoadedFile, name: string, stack: string[]): ServiceConfig {
    const svc = f.services[name];
    if (svc === undefined) throw new ComposeError(`cannot extend service "${name}": no such service`, f.file);
    if (!isObj(svc.extends)) return svc;
    const where = `${f.file}#${name}`;
    if (stack.includes(where)) throw new ComposeError(`services.${name}.extends: circular reference: ${[...stack, where].join(' -> ')}`, f.file);
    const e = svc.extends as { service?: string; file?: string };
    const baseName = e.service ?? '';
    let baseFile = f;
    if (e.file !== undefined) baseFile = this.load(e.file, path.dirname(e.file));
    if (!(baseName in baseFile.services))
      throw new ComposeError(`services.${name}.extends: service "${baseName}" not found${e.file === undefined ? '' : ` in ${e.file}`}`, f.file);
    const base = this.resolveExtends(baseFile, baseName, [...stack, where]);
    const { extends: _done, ...local } = svc;
    const { extends: _baseExtends, ...baseRest } = base;
    const merged = mergeService(baseRest, local);
    f.services[name] = merged;
    return merged;
  }
}

function projectEnv(o: LoadOptions, projectDir: string): Lookup {
  const env = o.env ?? process.env;
  const files = o.envFiles ?? (fs.existsSync(path.join(projectDir, '.env')) ? [path.join(projectDir, '.env')] : []);
  let dot: Record<string, string> = {};
  for (const f of files) dot = { ...dot, ...readDotenv(path.resolve(o.cwd ?? process.cwd(), f), (n) => env[n] ?? dot[n]) };
  return (n) => env[n] ?? dot[n];
}

function namedResources<T extends { name?: string; external?: boolean }>(entries: unknown, project: string): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(isObj(entries) ? entries : {})) {
    const c = (isObj(v) ? { ...v } : {}) as T;
    c.name ??= c.external === true ? k : `${project}_${k}`;
    out[k] = c;
  }
  return out;
}

export function loadProject(o: LoadOptions = {}): Project {
  const env = o.env ?? process.env;
  const cwd = o.cwd ?? process.cwd();
  const fromEnv = env.COMPOSE_FILE?.split(env.COMPOSE_PATH_SEPARATOR ?? ':').filter((f) => f !== '');
  const files = (o.files?.length ? o.files : (fromEnv ?? findComposeFiles(cwd))).map((f) => path.resolve(cwd, f));
  const projectDir = path.resolve(cwd, o.projectDirectory ?? path.dirname(files[0] ?? cwd));
  const lookup = projectEnv(o, projectDir);
  const loader = new Loader(lookup);
  let merged: Obj = {};
  for (const file of files) {
    const f = loader.load(file, projectDir);
    merged = mergeFiles(merged, { ...f.doc, services: f.services });
  }
  const name = normalizeProjectName(
    o.projectName ?? lookup('COMPOSE_PROJECT_NAME') ?? (typeof merged.name === 'string' ? merged.name : path.basename(projectDir)),
  );
  if (name === '' || !/^[a-z0-9]/.test(name)) throw new ComposeError(`invalid project name "${name}": must start with a lower case letter or digit`);

  const active = new Set(o.profiles ?? (lookup('COMPOSE_PROFILES') ?? '').split(',').filter((p) => p !== ''));
  const services: Record<string, ServiceConfig> = {};
  const disabled: Record<string, ServiceConfig> = {};
  for (const [svcName, svc] of Object.entries((merged.services ?? {}) as Record<string, ServiceConfig>)) {
    const on = svc.profiles === undefined || svc.profiles.length === 0 || active.has('*') || svc.profiles.some((p) => active.has(p));
    (on ? services : disabled)[svcName] = svc;
  }
  for (const [svcName, svc] of Object.entries(services)) services[svcName] = finalService(svcName, svc, name, lookup, files[0] ?? '');

  const networks = namedResources<NetworkConfig>(merged.networks, name);
  const usesDefault = Object.values(services).some((s) => s.networks !== undefined && 'default' in s.networks);
  if (usesDefault && networks.default === undefined) networks.default = { name: `${name}_default` };
  const volumes = namedResources<VolumeConfig>(merged.volumes, name);
  const project: Project = {
    name,
    workingDir: projectDir,
    configFiles: files,
    services,
    networks,
    volumes,
    disabledServices: disabled,
    extra: Object.fromEntries(Object.entries(merged).filter(([k]) => !['services', 'networks', 'volumes', 'name', 'version'].includes(k))),
  };
  checkReferences(project);
  return project;
}
