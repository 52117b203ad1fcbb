/** A project's containers as the daemon lists them, by Compose's labels (either compose's naming). */
import type { ContainerSummary, EngineClient } from '@gantry/client';
import { LABEL, projectFilter } from './labels';

export interface ListOptions {
  all?: boolean;
  /** One-off (`run`) containers too. */
  oneoff?: boolean;
  services?: string[];
}

export function serviceOf(c: ContainerSummary): string {
  return c.Labels[LABEL.service] ?? '';
}

export function numberOf(c: ContainerSummary): number {
  return Number(c.Labels[LABEL.number] ?? '0');
}

export function nameOf(c: ContainerSummary): string {
  return (c.Names[0] ?? c.Id).replace(/^\//, '');
}

export async function projectContainers(client: EngineClient, project: string, o: ListOptions = {}): Promise<ContainerSummary[]> {
  const list = await client.containers.list({ all: o.all ?? true, filters: projectFilter(project) });
  return list
    .filter((c) => o.oneoff === true || c.Labels[LABEL.oneoff] !== 'True')
    .filter((c) => o.services === undefined || o.services.length === 0 || o.services.includes(serviceOf(c)))
    .sort((a, b) => serviceOf(a).localeCompare(serviceOf(b)) || numberOf(a) - numberOf(b) || nameOf(a).localeCompare(nameOf(b)));
}
