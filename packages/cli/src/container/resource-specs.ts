/**
 * docker's value syntaxes for the block-I/O, device-cgroup and GPU flags of run/create:
 * `--blkio-weight-device /dev/x:200`, `--device-read-bps /dev/x:1mb`, `--device-write-iops /dev/x:100`,
 * `--device-cgroup-rule 'c 1:3 rwm'`, `--gpus all|N|driver=…,count=…,device=…,capabilities=…,options=…`.
 * Each parser is a commander argParser (repeats accumulate); a bad value is an InvalidArgumentError,
 * which the program prints as docker's `invalid argument "<v>" for "<flag>" flag: <reason>` (125).
 */
import { InvalidArgumentError } from 'commander';
import type { DeviceRequest, ThrottleDevice, WeightDevice } from '@gantry/client';
import { bytes } from './units';

/** `/dev/x:<value>` split, with docker's two messages for a missing part and a path outside /dev. */
function devicePath(spec: string): [string, string] {
  const parts = spec.split(':');
  if (parts.length !== 2 || parts[0] === '') throw new InvalidArgumentError(`bad format: ${spec}`);
  const [path = '', value = ''] = parts;
  if (!path.startsWith('/dev/')) throw new InvalidArgumentError(`bad format for device path: ${spec}`);
  return [path, value];
}

/** An unsigned decimal that fits `bits` bits (Go's strconv.ParseUint), or undefined. */
function parseUint(v: string, bits: number): number | undefined {
  if (!/^\d+$/.test(v)) return undefined;
  const n = BigInt(v);
  return n < 1n << BigInt(bits) ? Number(n) : undefined;
}

/** A commander parser for an unsigned flag of `bits` bits, with Go's messages. */
export function uintParser(bits: number): (v: string) => number {
  return (v) => {
    const n = parseUint(v, bits);
    if (n !== undefined) return n;
    throw new InvalidArgumentError(`strconv.ParseUint: parsing "${v}": ${/^\d+$/.test(v) ? 'value out of range' : 'invalid syntax'}`);
  };
}

export function weightDevice(spec: string, previous: WeightDevice[] | undefined): WeightDevice[] {
  const [path, value] = devicePath(spec);
  const weight = parseUint(value, 16);
  // 0 leaves the device's weight alone; anything else is cgroup v1's 10..1000
  if (weight === undefined || (weight > 0 && (weight < 10 || weight > 1000))) throw new InvalidArgumentError(`invalid weight for device: ${spec}`);
  return [...(previous ?? []), { Path: path, Weight: weight }];
}

export function throttleBps(spec: string, previous: ThrottleDevice[] | undefined): ThrottleDevice[] {
  const [path, value] = devicePath(spec);
  let rate: number;
  try {
    rate = bytes(value);
  } catch {
    throw new InvalidArgumentError(
      `invalid rate for device: ${spec}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`,
    );
  }
  return [...(previous ?? []), { Path: path, Rate: rate }];
}

export function throttleIops(spec: string, previous: ThrottleDevice[] | undefined): ThrottleDevice[] {
  const [path, value] = devicePath(spec);
  const rate = parseUint(value, 64);
  if (rate === undefined)
    throw new InvalidArgumentError(`invalid rate for device: ${spec}. The correct format is <device-path>:<number>. Number must be a positive integer`);
  return [...(previous ?? []), { Path: path, Rate: rate }];
}

export function cgroupRule(rule: string, previous: string[] | undefined): string[] {
  if (!/^[acb] (\d+|\*):(\d+|\*) [rwm]{1,3}$/.test(rule)) throw new InvalidArgumentError(`invalid device cgroup format '${rule}'`);
  return [...(previous ?? []), rule];
}

/** One CSV record (Go's encoding/csv: fields split on commas, `"…"` quoting with `""` for a quote). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  if (quoted) throw new InvalidArgumentError(`parse error on line 1, column ${line.length + 1}: extraneous or missing " in quoted-field`);
  out.push(field);
  return out;
}

function gpuCount(v: string): number {
  if (v === 'all') return -1;
  if (!/^[+-]?\d+$/.test(v)) throw new InvalidArgumentError(`invalid count (${v}): value must be either "all" or an integer: invalid syntax`);
  return Number(v);
}

/** `--gpus`: one device request per flag, as docker's CLI builds it (count 1 unless devices or a count are named). */
export function gpuRequest(spec: string, previous: DeviceRequest[] | undefined): DeviceRequest[] {
  const req: DeviceRequest = { Driver: '', Count: 0 };
  const seen = new Set<string>();
  for (const field of csvFields(spec)) {
    const i = field.indexOf('=');
    const key = i < 0 ? field : field.slice(0, i);
    const value = field.slice(i + 1);
    if (seen.has(key)) throw new InvalidArgumentError(`gpu request key '${key}' can be specified only once`);
    seen.add(key);
    if (i < 0) {
      seen.add('count');
      req.Count = gpuCount(key);
      continue;
    }
    switch (key) {
      case 'driver':
        req.Driver = value;
        break;
      case 'count':
        req.Count = gpuCount(value);
        break;
      case 'device':
        req.DeviceIDs = value.split(',');
        break;
      case 'capabilities':
        req.Capabilities = [[...value.split(','), 'gpu']];
        break;
      case 'options':
        req.Options = Object.fromEntries(
          csvFields(value).map((kv) => {
            const j = kv.indexOf('=');
            return j < 0 ? [kv, ''] : [kv.slice(0, j), kv.slice(j + 1)];
          }),
        );
        break;
      default:
        throw new InvalidArgumentError(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!seen.has('count') && req.DeviceIDs === undefined) req.Count = 1;
  req.Capabilities ??= [['gpu']];
  req.Options ??= {};
  return [...(previous ?? []), req];
}
