/** `gantry compose`'s own options (-f, -p, --project-directory, --env-file, --profile) and the project they name. */
import type { Command } from 'commander';
import { ComposeError } from '../errors';
import { loadProject } from '../load';
import type { Project } from '../model';
import type { ComposeContext } from '../engine/output';

export interface GlobalOptions {
  file?: string[];
  projectName?: string;
  projectDirectory?: string;
  envFile?: string[];
  profile?: string[];
}

export const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

export function load(ctx: ComposeContext, g: GlobalOptions): Project {
  return loadProject({
    files: g.file,
    projectName: g.projectName,
    projectDirectory: g.projectDirectory,
    envFiles: g.envFile,
    profiles: g.profile,
    env: ctx.env,
  });
}

/**
 * The project for commands that work from labels alone (ps, logs, down, stop, ...): loaded when a
 * file is there, else (with -p) only its name, so a project whose file is gone, or one another
 * Compose started, can still be listed and removed.
 */
export function target(ctx: ComposeContext, g: GlobalOptions): { name: string; project?: Project } {
  try {
    const project = load(ctx, g);
    return { name: project.name, project };
  } catch (e) {
    if (g.projectName !== undefined && e instanceof ComposeError && e.message.startsWith('no configuration file provided')) return { name: g.projectName };
    throw e;
  }
}

export function positiveInt(v: string): number {
  if (!/^\d+$/.test(v)) throw new ComposeError(`invalid number "${v}"`);
  return Number(v);
}
