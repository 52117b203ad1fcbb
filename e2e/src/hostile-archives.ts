/**
 * Hostile tar archives for the end-to-end tests, written from the ustar/PAX layout (no code of
 * the daemon under test): malformed PAX sizes, repeated PAX records, a 2 GiB-of-zeros gzip bomb
 * produced as a stream (concatenated gzip members of 1 MiB of zeros each, about 1 KB apiece),
 * truncated gzip, escaping names and hard links; and a docker-archive wrapping a layer.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, '0') + '\0';

export function header(h: { name: string; type?: string; size?: number; linkname?: string; mode?: number }): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0, 100, 'utf8');
  b.write(octal(h.mode ?? 0o644, 8), 100, 'latin1');
  b.write(octal(0, 8), 108, 'latin1');
  b.write(octal(0, 8), 116, 'latin1');
  b.write(octal(h.size ?? 0, 12), 124, 'latin1');
  b.write(octal(1_600_000_000, 12), 136, 'latin1');
  b.write(h.type ?? '0', 156, 'latin1');
  b.write(h.linkname ?? '', 157, 100, 'utf8');
  b.write('ustar\x0000', 257, 'latin1');
  b.fill(' ', 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(octal(sum, 7) + ' ', 148, 'latin1');
  return b;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);
export const END = Buffer.alloc(1024);

export function file(name: string, data: string | Buffer): Buffer {
  const d = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return Buffer.concat([header({ name, size: d.length }), d, pad(d.length)]);
}

function paxRecord(key: string, value: string): Buffer {
  const body = Buffer.from(` ${key}=${value}\n`);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** A PAX 'x' header holding `records` in order (a key may repeat). */
export function pax(records: [string, string][]): Buffer {
  const data = Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
  return Buffer.concat([header({ name: 'PaxHeaders/0', type: 'x', size: data.length }), data, pad(data.length)]);
}

const MiB = 1 << 20;
let zeroMember: Buffer | undefined;

/** A gzip stream: `prefix` then `mib` MiB of zeros, generated as it is read (about 1 KB per MiB). */
export async function* zeroBomb(mib: number, prefix: Buffer): AsyncGenerator<Buffer> {
  zeroMember ??= gzipSync(Buffer.alloc(MiB));
  yield gzipSync(prefix);
  for (let i = 0; i < mib; i++) yield zeroMember;
}

/** The whole of an async byte stream (for small ones). */
export async function collect(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of src) parts.push(c);
  return Buffer.concat(parts);
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A docker-archive (`docker save`) of one image whose only layer is `layer`, tagged `tag`. */
export function dockerArchive(layer: Buffer, tag: string): Buffer {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const config = Buffer.from(
    JSON.stringify({ architecture: arch, os: 'linux', config: { Cmd: ['true'] }, rootfs: { type: 'layers', diff_ids: [sha(layer)] } }),
  );
  const manifest = Buffer.from(JSON.stringify([{ Config: 'config.json', RepoTags: [tag], Layers: ['layer/layer.tar'] }]));
  return Buffer.concat([file('layer/layer.tar', layer), file('config.json', config), file('manifest.json', manifest), END]);
}

export interface HostileLayer {
  name: string;
  /** The layer tar (or gzipped tar) as a stream of chunks. */
  bytes(): AsyncGenerator<Buffer>;
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

/** The layers of the report, each of which dockerd refuses. */
export function hostileLayers(): HostileLayer[] {
  const withPaxSize = (v: string) => Buffer.concat([pax([['size', v]]), file('f', 'hello'), END]);
  return [
    { name: 'fractional PAX size (size=1.5)', bytes: () => once(withPaxSize('1.5')) },
    { name: 'negative PAX size (size=-1)', bytes: () => once(withPaxSize('-1')) },
    { name: 'huge PAX size (size=99999999999999999999)', bytes: () => once(withPaxSize('99999999999999999999')) },
    {
      // later records replace earlier ones, in one header and across two: the escaping name wins
      name: 'repeated PAX records (path=ok, then path=../../../escape)',
      bytes: () =>
        once(
          Buffer.concat([
            pax([['path', 'first']]),
            pax([
              ['path', 'ok'],
              ['path', '../../../escape'],
            ]),
            file('f', 'x'),
            END,
          ]),
        ),
    },
    { name: '2 GiB-of-zeros gzip bomb (streamed)', bytes: () => zeroBomb(2048, header({ name: 'zeros', size: 2048 * MiB })) },
    {
      name: 'truncated gzip',
      bytes: () => {
        const gz = gzipSync(Buffer.concat([file('f', 'x'.repeat(10000)), END]));
        return once(gz.subarray(0, gz.length - 10));
      },
    },
    { name: '../ entry', bytes: () => once(Buffer.concat([file('../../../../tmp/gantry-hostile-dotdot', 'pwned'), END])) },
    { name: 'absolute entry climbing out (/../../x)', bytes: () => once(Buffer.concat([file('/../../../tmp/gantry-hostile-abs', 'pwned'), END])) },
    {
      name: 'hard link out of the root',
      bytes: () => once(Buffer.concat([file('a', 'a'), header({ name: 'hl', type: '1', linkname: '../../../../../etc/passwd' }), END])),
    },
  ];
}
