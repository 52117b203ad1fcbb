/**
 * go-units as docker prints with it: sizes (HumanSize: decimal, "kB"/"MB"; BytesSize: binary,
 * "KiB"/"MiB"), with Go's %.Ng formatting, and HumanDuration ("Less than a second",
 * "About a minute", "3 weeks"...).
 */
import { formatFloat } from './template/fmt';

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function scale(size: number, base: number, units: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return [size, units[i]];
}

/** go-units HumanSizeWithPrecision: `%.<precision>g` of the size in decimal units ("12.3MB", "1e+03kB"). */
export function humanSizeWithPrecision(size: number, precision: number): string {
  const [v, unit] = scale(size, 1000, DECIMAL);
  return formatFloat(v, 'g', precision) + unit;
}

/**
 * go-units HumanSize: 4 significant digits ("2.746MB"). docker's `ps`, `images`, `system df` use
 * humanSizeWithPrecision(size, 3) ("12.3MB").
 */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

/** go-units BytesSize: binary units, 4 significant digits ("44KiB", "1.5GiB"). */
export function bytesSize(size: number): string {
  const [v, unit] = scale(size, 1024, BINARY);
  return formatFloat(v, 'g', 4) + unit;
}

/** go-units HumanDuration of a duration in milliseconds. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  // go-units rounds to the hour here (d.Round(time.Hour)): 1h40m is "2 hours"
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`;
}
