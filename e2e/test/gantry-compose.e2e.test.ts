/**
 * `gantry compose` (@gantry/compose through the bundled gantry CLI) against the shared gantryd,
 * with the application of issue 17 that docker-compose.e2e.test.ts brings up with Debian's
 * docker-compose 1.29: busybox httpd serving a file from a named volume, a worker built from a
 * Dockerfile that fetches from it by service name once web's healthcheck passes, a port published
 * on loopback. Then ps, logs, exec, run --rm, `up -d` again (nothing recreated), a changed service
 * recreated alone, --scale worker=3, and `down -v` leaving no container, network, volume, bridge,
 * veth or netns. Also: projects of docker-compose 1.29 and of gantry compose see each other by
 * labels, and bad input fails with a message naming the file, service and key.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { describeIf, freePort, needRoot, needTool, waitFor } from '@gantry/testkit';
import { sharedGantryd, type CliResult, type GantrydHarness } from '../src/gantryd';

interface ContainerSummary {
  Id: string;
  Names: string[];
  State: string;
  Labels: Record<string, string>;
}

const GANTRY = join(__dirname, '..', '..', 'bin', 'gantry');
const tag = Math.random().toString(36).slice(2, 8);
const PROJECT = `gz${tag}`;
const SUBNET = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}.0/24`;

function composeFile(port: number): string {
  return `services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"]
    init: true
    volumes:
      - site:/www
    ports:
      - "127.0.0.1:${port}:80"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/index.html"]
      interval: 1s
      timeout: 2s
      retries: 30
    stop_grace_period: 1s
  worker:
    build: ./worker
    depends_on:
      web:
        condition: service_healthy
    environment:
      GREETING: \${GREETING:?set GREETING}
    stop_grace_period: 1s
volumes:
  site: {}
networks:
  default:
    ipam:
      config:
        - subnet: ${SUBNET}
`;
}

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout = 180000): CliResult {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, killSignal: 'SIGKILL', env });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

describe('gantry compose: bad input', () => {
  const dir = fs.mkdtempSync('/tmp/gcompose-bad-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function bad(name: string, text: string, env: NodeJS.ProcessEnv = {}): CliResult {
    fs.writeFileSync(join(dir, name), text);
    const r = run(GANTRY, ['compose', '-f', name, 'config'], dir, { PATH: process.env.PATH, ...env });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    return r;
  }

  test('invalid YAML: the file, line and column', () => {
    const r = bad('yaml.yml', 'services:\n  web:\n    image: busybox\n   command: [\n');
    expect(r.stderr).toMatch(new RegExp(`^${dir}/yaml.yml: invalid YAML: line \\d+, column \\d+: `));
  });

  test('an unknown key: the file, service and key', () => {
    const r = bad('key.yml', 'services:\n  web:\n    image: busybox\n    comand: ["true"]\n');
    expect(r.stderr).toBe(`${dir}/key.yml: services.web: additional property 'comand' is not allowed\n`);
  });

  test('a missing required variable: the variable, its place and its message', () => {
    const r = bad('var.yml', 'services:\n  web:\n    image: busybox\n    environment:\n      - TOKEN=${TOKEN:?set TOKEN first}\n');
    expect(r.stderr).toBe(`${dir}/var.yml: required variable TOKEN is missing a value in services.web.environment[0]: set TOKEN first\n`);
  });

  test('a depends_on cycle: the cycle', () => {
    const r = bad(
      'cycle.yml',
      'services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on:\n      c: {condition: service_started}\n  c:\n    image: busybox\n    depends_on: [a]\n',
    );
    expect(r.stderr).toBe(`${dir}/cycle.yml: dependency cycle detected: a -> b -> c -> a\n`);
  });
});

describeIf(needRoot())('gantry compose against gantryd', () => {
  let h: GantrydHarness;
  let dir: string;
  let port: number;
  let netnsBefore: string[];
  let greeting = 'one';

  const netnsDir = () => join(h.dir, 'run', 'netns');
  const netns = () => (fs.existsSync(netnsDir()) ? fs.readdirSync(netnsDir()).sort() : []);

  function compose(args: string[], timeout = 180000): CliResult {
    return run(GANTRY, ['compose', '-p', PROJECT, ...args], dir, { ...h.env(), GREETING: greeting }, timeout);
  }

  function composeOk(args: string[]): string {
    const r = compose(args);
    if (r.status !== 0) throw new Error(`gantry compose ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}\ngantryd:\n${h.logTail(20)}`);
    return r.stdout + r.stderr;
  }

  async function containers(service?: string, project = PROJECT): Promise<ContainerSummary[]> {
    const labels = [`com.docker.compose.project=${project}`, ...(service ? [`com.docker.compose.service=${service}`] : [])];
    const r = await h.request('GET', `/v1.45/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: labels }))}`);
    expect(r.status).toBe(200);
    return JSON.parse(r.body) as ContainerSummary[];
  }

  async function inspect(id: string): Promise<{ State: { StartedAt: string; Health?: { Status: string; Log: { End: string; ExitCode: number }[] } } }> {
    return JSON.parse((await h.request('GET', `/v1.45/containers/${id}/json`)).body) as never;
  }

  beforeAll(async () => {
    h = await sharedGantryd();
    dir = join(h.dir, `gcompose-${tag}`);
    fs.mkdirSync(join(dir, 'worker'), { recursive: true });
    fs.writeFileSync(
      join(dir, 'worker', 'Dockerfile'),
      'FROM busybox:latest\nCMD ["sh", "-c", "while true; do echo \\"$GREETING $(wget -q -O - http://web/index.html)\\"; sleep 1; done"]\n',
    );
    port = await freePort();
    fs.writeFileSync(join(dir, 'compose.yaml'), composeFile(port));
    netnsBefore = netns();
  }, 120000);

  afterAll(async () => {
    if (!h) return;
    compose(['down', '-v', '--rmi', 'local'], 120000);
    await h.stop();
  }, 180000);

  test('config prints the resolved model', () => {
    const out = composeOk(['config', '--format', 'json']);
    const model = JSON.parse(out) as { name: string; services: Record<string, { image: string; environment: Record<string, string>; ports: unknown[] }> };
    expect(model.name).toBe(PROJECT);
    expect(model.services.worker!.image).toBe(`${PROJECT}-worker`);
    expect(model.services.worker!.environment).toEqual({ GREETING: 'one' });
    expect(model.services.web!.ports).toEqual([{ mode: 'ingress', target: 80, host_ip: '127.0.0.1', published: String(port), protocol: 'tcp' }]);
    expect(composeOk(['config', '--services'])).toBe('web\nworker\n');
  });

  test('up -d builds the worker, starts web, waits for it to be healthy, then starts the worker', async () => {
    const out = composeOk(['up', '-d']);
    expect(out).toContain(`Network ${PROJECT}_default  Created`);
    expect(out).toContain(`Volume "${PROJECT}_site"  Created`);
    expect(out).toContain(`Container ${PROJECT}-web-1  Healthy`);
    expect(out).toContain(`Container ${PROJECT}-worker-1  Started`);
    const [web] = await containers('web');
    const [worker] = await containers('worker');
    expect(web!.Names).toEqual([`/${PROJECT}-web-1`]);
    expect(worker!.Labels).toMatchObject({
      'com.docker.compose.project': PROJECT,
      'com.docker.compose.service': 'worker',
      'com.docker.compose.container-number': '1',
      'com.docker.compose.oneoff': 'False',
      'com.docker.compose.project.working_dir': dir,
      'com.docker.compose.project.config_files': join(dir, 'compose.yaml'),
    });
    expect(worker!.Labels['com.docker.compose.config-hash']).toMatch(/^[0-9a-f]{64}$/);
    // the worker started only after a passing health check of web
    const w = await inspect(web!.Id);
    expect(w.State.Health?.Status).toBe('healthy');
    const firstPass = w.State.Health!.Log.find((l) => l.ExitCode === 0)!;
    expect(Date.parse((await inspect(worker!.Id)).State.StartedAt)).toBeGreaterThanOrEqual(Date.parse(firstPass.End));
    expect((await containers()).map((c) => c.State)).toEqual(['running', 'running']);
    const net = JSON.parse((await h.request('GET', `/v1.45/networks/${PROJECT}_default`)).body) as {
      IPAM: { Config: { Subnet: string }[] };
      Labels: Record<string, string>;
    };
    expect(net.IPAM.Config[0]!.Subnet).toBe(SUBNET);
    expect(net.Labels).toMatchObject({ 'com.docker.compose.project': PROJECT, 'com.docker.compose.network': 'default' });
  }, 240000);

  test('the published port answers from the host with the file on the named volume', async () => {
    expect(await httpGet(port, '/index.html')).toBe('hello-from-web\n');
  }, 30000);

  test('ps lists both services; logs show the worker fetching from web by service name', async () => {
    const ps = composeOk(['ps']);
    expect(ps.split('\n')[0]).toMatch(/^NAME +IMAGE +COMMAND +SERVICE +CREATED +STATUS +PORTS$/);
    expect(ps).toMatch(new RegExp(`${PROJECT}-web-1 +busybox:latest .* web .*Up .*\\(healthy\\) +127\\.0\\.0\\.1:${port}->80/tcp`));
    expect(ps).toMatch(new RegExp(`${PROJECT}-worker-1 +${PROJECT}-worker .* worker .*Up`));
    expect(composeOk(['ps', '--services'])).toBe('web\nworker\n');
    expect(composeOk(['ps', '-q']).trim().split('\n')).toHaveLength(2);
    const logs = await waitFor('worker logs with the page', () => {
      const l = compose(['logs', '--no-color', 'worker']).stdout;
      return l.includes('one hello-from-web') && l;
    });
    expect(logs).toMatch(new RegExp(`^${PROJECT}-worker-1  \\| one hello-from-web$`, 'm'));
    expect(compose(['logs', '--tail', '1', '--no-log-prefix', 'worker']).stdout).toBe('one hello-from-web\n');
  }, 60000);

  test('exec runs in the service container; run --rm runs a one-off that reaches web and is gone after', async () => {
    expect(compose(['exec', '-T', 'web', 'cat', '/www/index.html']).stdout).toBe('hello-from-web\n');
    expect(compose(['exec', '-T', 'web', 'sh', '-c', 'exit 7']).status).toBe(7);
    expect(compose(['exec', '-T', 'web', 'cat', '/proc/1/comm']).stdout).toBe('docker-init\n'); // init: true
    const r = compose(['run', '--rm', '-T', '-e', 'X=ran', 'worker', 'sh', '-c', 'wget -q -O - http://web/index.html && echo $X']);
    expect(r).toMatchObject({ status: 0, stdout: 'hello-from-web\nran\n' });
    expect((await containers()).filter((c) => c.Labels['com.docker.compose.oneoff'] === 'True')).toEqual([]);
  }, 120000);

  test('up -d again recreates nothing', async () => {
    const before = (await containers()).map((c) => c.Id).sort();
    const out = composeOk(['up', '-d']);
    expect(out).toContain(`Container ${PROJECT}-web-1  Running`);
    expect(out).toContain(`Container ${PROJECT}-worker-1  Running`);
    expect(out).not.toContain('Recreate');
    expect((await containers()).map((c) => c.Id).sort()).toEqual(before);
  }, 120000);

  test('a changed service is recreated alone', async () => {
    const [web] = await containers('web');
    const [worker] = await containers('worker');
    greeting = 'two';
    const out = composeOk(['up', '-d']);
    expect(out).toContain(`Container ${PROJECT}-web-1  Running`);
    expect(out).toContain(`Container ${PROJECT}-worker-1  Recreated`);
    expect((await containers('web')).map((c) => c.Id)).toEqual([web!.Id]);
    const now = await containers('worker');
    expect(now).toHaveLength(1);
    expect(now[0]!.Id).not.toBe(worker!.Id);
    expect(now[0]!.Names).toEqual([`/${PROJECT}-worker-1`]);
    expect(now[0]!.State).toBe('running');
    await waitFor('the recreated worker', () => compose(['logs', 'worker']).stdout.includes('two hello-from-web'));
  }, 120000);

  test('up -d --scale worker=3 runs three workers, each reaching web; the project is listed by ls', async () => {
    composeOk(['up', '-d', '--scale', 'worker=3']);
    const workers = await containers('worker');
    expect(workers.map((c) => c.Names[0]).sort()).toEqual([1, 2, 3].map((n) => `/${PROJECT}-worker-${n}`));
    expect(workers.map((c) => c.Labels['com.docker.compose.container-number']).sort()).toEqual(['1', '2', '3']);
    await waitFor('every worker fetched the page', () => {
      const l = compose(['logs', '--no-color', 'worker']).stdout;
      return [1, 2, 3].every((n) => new RegExp(`worker-${n}  \\| two hello-from-web`).test(l));
    });
    const ls = compose(['ls']).stdout;
    expect(ls.split('\n')[0]).toMatch(/^NAME +STATUS +CONFIG FILES$/);
    expect(ls).toMatch(new RegExp(`^${PROJECT} +running\\(4\\) +${join(dir, 'compose.yaml')}$`, 'm'));
  }, 180000);

  test('down -v leaves no container, network, volume, bridge, veth or netns', async () => {
    const net = JSON.parse((await h.request('GET', `/v1.45/networks/${PROJECT}_default`)).body) as { Id: string };
    const bridge = `gt-${net.Id.slice(0, 12)}`;
    expect(spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout).toContain(bridge);
    const out = composeOk(['down', '-v']);
    expect(out).toContain(`Network ${PROJECT}_default  Removed`);
    expect(out).toContain(`Volume ${PROJECT}_site  Removed`);
    expect(await containers()).toEqual([]);
    expect((await h.request('GET', `/v1.45/networks/${PROJECT}_default`)).status).toBe(404);
    expect((await h.request('GET', `/v1.45/volumes/${PROJECT}_site`)).status).toBe(404);
    const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
    expect(links.split('\n').filter((l) => l.includes(bridge))).toEqual([]);
    expect(netns()).toEqual(netnsBefore);
  }, 120000);

  describeIf(needTool('docker-compose'))('beside docker-compose 1.29', () => {
    const OTHER = `gy${tag}`;
    let odir: string;
    const legacy = (args: string[], cwd: string) =>
      run('docker-compose', ['-p', OTHER, ...args], cwd, { ...h.env(), COMPOSE_DOCKER_CLI_BUILD: '0', DOCKER_BUILDKIT: '0' });

    beforeAll(() => {
      odir = join(h.dir, `gcompose-legacy-${tag}`);
      fs.mkdirSync(odir, { recursive: true });
      fs.writeFileSync(
        join(odir, 'docker-compose.yml'),
        'version: "2.4"\nservices:\n  app:\n    image: busybox:latest\n    command: ["sleep", "1000"]\n    stop_grace_period: 1s\n',
      );
    });

    afterAll(() => {
      legacy(['down', '-v'], odir);
    }, 120000);

    test("gantry compose lists, reads and removes docker-compose 1.29's project by its labels", async () => {
      const up = legacy(['up', '-d'], odir);
      expect(up.status).toBe(0);
      const empty = fs.mkdtempSync(join(h.dir, 'nofile-'));
      const g = (args: string[]) => run(GANTRY, ['compose', ...args], empty, h.env());
      expect(g(['ls']).stdout).toMatch(new RegExp(`^${OTHER} +running\\(1\\) +${join(odir, 'docker-compose.yml')}$`, 'm'));
      expect(g(['-p', OTHER, 'ps', '--format', '{{.Name}} {{.Service}} {{.State}}']).stdout).toBe(`${OTHER}_app_1 app running\n`);
      const down = g(['-p', OTHER, 'down']);
      expect(down.status).toBe(0);
      expect(await containers(undefined, OTHER)).toEqual([]);
      expect((await h.request('GET', `/v1.45/networks/${OTHER}_default`)).status).toBe(404);
      fs.rmSync(empty, { recursive: true });
    }, 120000);

    test("docker-compose 1.29 lists and stops gantry compose's project by its labels", async () => {
      fs.writeFileSync(
        join(odir, 'docker-compose.yml'),
        'version: "2.4"\nservices:\n  app:\n    image: busybox:latest\n    command: ["sleep", "1000"]\n    stop_grace_period: 1s\n',
      );
      const g = run(GANTRY, ['compose', '-p', OTHER, 'up', '-d'], odir, h.env());
      expect(g.status).toBe(0);
      const ps = legacy(['ps'], odir);
      expect(ps.stdout).toMatch(new RegExp(`${OTHER}-app-1 .*Up`));
      expect(legacy(['stop'], odir).status).toBe(0);
      expect((await containers(undefined, OTHER)).map((c) => c.State)).toEqual(['exited']);
      expect(legacy(['down'], odir).status).toBe(0);
      expect(await containers(undefined, OTHER)).toEqual([]);
    }, 120000);
  });
});
