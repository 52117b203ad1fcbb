/**
 * Container and exec stdin through gantryd with the real docker CLI: input sent before the task
 * exists (docker run -i attaches before start), end of input reaching the process, large input
 * arriving whole, and repeated `docker exec -i`.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

describe('gantryd stdin (docker run -i, docker exec -i)', () => {
  let h: GantrydHarness;

  beforeAll(async () => {
    h = await sharedGantryd();
  }, 120000);

  afterAll(async () => {
    await h?.stop();
  }, 60000);

  /** docker with binary stdin/stdout; killed (not TERMed: the CLI forwards TERM) when it hangs. */
  const dockerBin = (args: string[], input: Buffer) => {
    const r = spawnSync('docker', args, { input, env: h.env(), timeout: 30000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 });
    return { status: r.status, stdout: r.stdout ?? Buffer.alloc(0), stderr: (r.stderr ?? Buffer.alloc(0)).toString() };
  };

  it('passes piped input and its end to a container started by docker run -i', () => {
    for (let i = 0; i < 3; i++) {
      const r = dockerBin(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo done'], Buffer.from(`x${i}\n`));
      expect({ status: r.status, out: r.stdout.toString(), err: r.stderr }).toEqual({ status: 0, out: `x${i}\ndone\n`, err: '' });
    }
  });

  it('round-trips 1 MiB of binary input through docker run -i cat', () => {
    const data = randomBytes(1 << 20);
    const r = dockerBin(['run', '-i', '--rm', 'busybox', 'cat'], data);
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBe(data.length);
    expect(r.stdout.equals(data)).toBe(true);
  });

  it('gives the process EOF on empty input (docker run -i with nothing piped)', () => {
    const r = dockerBin(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'wc -c'], Buffer.alloc(0));
    expect(r.status).toBe(0);
    expect(r.stdout.toString().trim()).toBe('0');
  });

  it('runs 30 docker exec -i in a row, each seeing its input and EOF', () => {
    h.ok(['run', '-d', '--name', 'execloop', 'busybox', 'sleep', '1000']);
    const failures: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = dockerBin(['exec', '-i', 'execloop', 'cat'], Buffer.from(`hi${i}\n`));
      if (r.status !== 0 || r.stdout.toString() !== `hi${i}\n`)
        failures.push(`#${i}: exit ${r.status} out=${JSON.stringify(r.stdout.toString())} err=${r.stderr}`);
    }
    expect(failures).toEqual([]);
    // large input through exec as well
    const data = randomBytes(256 << 10);
    const big = dockerBin(['exec', '-i', 'execloop', 'cat'], data);
    expect(big.status).toBe(0);
    expect(big.stdout.equals(data)).toBe(true);
    // the exit code of the exec'd process comes back
    expect(dockerBin(['exec', '-i', 'execloop', 'sh', '-c', 'cat >/dev/null; exit 7'], Buffer.from('z')).status).toBe(7);
    h.ok(['rm', '-f', 'execloop']);
  }, 120000);
});
