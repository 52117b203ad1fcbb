/** `config`'s output: the resolved model as Compose prints it (YAML, or JSON with --format json). */
import { stringify } from 'yaml';
import type { Project } from './model';

function model(p: Project): Record<string, unknown> {
  const out: Record<string, unknown> = { name: p.name, services: p.services };
  if (Object.keys(p.networks).length > 0) out.networks = p.networks;
  if (Object.keys(p.volumes).length > 0) out.volumes = p.volumes;
  return { ...out, ...p.extra };
}

export function projectYaml(p: Project): string {
  return stringify(model(p), { aliasDuplicateObjects: false, lineWidth: 0 });
}

export function projectJson(p: Project): string {
  return JSON.stringify(model(p), null, 2) + '\n';
}
