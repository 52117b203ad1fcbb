/** Compose's labels and names: how a project's containers, networks and volumes are found again. */
import type { Filters } from '@gantry/client';

export const COMPOSE_VERSION = '2.0.0-gantry';

export const LABEL = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  oneoff: 'com.docker.compose.oneoff',
  hash: 'com.docker.compose.config-hash',
  version: 'com.docker.compose.version',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  image: 'com.docker.compose.image',
  dependsOn: 'com.docker.compose.depends_on',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
} as const;

/** `<project>-<service>-<n>` (docker compose v2; docker-compose 1.x used `_`, found by labels all the same). */
export function containerName(project: string, service: string, n: number): string {
  return `${project}-${service}-${n}`;
}

export function projectFilter(project: string, extra: Record<string, string> = {}): Filters {
  return { label: [`${LABEL.project}=${project}`, ...Object.entries(extra).map(([k, v]) => `${k}=${v}`)] };
}
