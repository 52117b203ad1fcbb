// A multi-layer image made offline: `layers` layers of random bytes (which do not compress, so a
// push's gzip and a pull's gunzip see every byte), packed by GNU tar into a docker-archive that
// `docker load` takes.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function tar(args) {
  const r = spawnSync('tar', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Writes the archive to `<dir>/layered.tar` (tagged `name`) and returns its path; `dir` is scratch space. */
export function makeLayeredArchive(dir, { layers, layerMb, name }) {
  const arch = join(dir, 'archive');
  mkdirSync(arch, { recursive: true });
  const diffIds = [];
  const layerPaths = [];
  for (let i = 0; i < layers; i++) {
    const root = join(dir, `layer${i}`);
    mkdirSync(join(root, `data${i}`), { recursive: true });
    const files = 4;
    for (let f = 0; f < files; f++) writeFileSync(join(root, `data${i}`, `blob${f}`), randomBytes(Math.round((layerMb * 1024 * 1024) / files)));
    const file = join(dir, `layer${i}.tar`);
    tar(['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', root, '-cf', file, '.']);
    const hex = createHash('sha256').update(readFileSync(file)).digest('hex');
    mkdirSync(join(arch, hex));
    renameSync(file, join(arch, hex, 'layer.tar'));
    diffIds.push(`sha256:${hex}`);
    layerPaths.push(`${hex}/layer.tar`);
    rmSync(root, { recursive: true });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created_by: 'bench/layered-image.mjs' })),
    }),
  );
  const configHex = createHash('sha256').update(config).digest('hex');
  writeFileSync(join(arch, `${configHex}.json`), config);
  writeFileSync(join(arch, 'manifest.json'), JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [name], Layers: layerPaths }]));
  const out = join(dir, 'layered.tar');
  tar(['-C', arch, '-cf', out, '.']);
  rmSync(arch, { recursive: true });
  return out;
}
