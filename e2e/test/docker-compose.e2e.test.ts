/**
 * Debian's docker-compose 1.29 (Python, through the Docker SDK for Python) driving the shared gantryd
 * unchanged (only DOCKER_HOST): busybox httpd serving a file from a named volume, a worker built from a
 * Dockerfile by gantryd's classic builder (POST /build, from compose itself) that fetches from it by
 * service name once web's healthcheck passes (`depends_on: condition: service_healthy`, file format 2.4),
 * a port published on loopback; then `ps`, `logs`, `up -d` again (nothing recreated), a changed service
 * recreated alone, `--scale worker=3`, `run --rm` (legacy links), and `down -v` leaving no container, network, volume, bridge,
 * veth or netns behind.
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

const tag = Math.random().toString(36).slice(2, 8);
const PROJECT = `gc${tag}`;
const SUBNET = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}.0/24`;

function composeFile(port: number, greeting: string): string {
  return `version: "2.4"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"]
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
      GREETING: ${greeting}
    stop_grace_period: 1s # sh as pid 1 ignores SIGTERM: no 10 s wait on each recreate and down
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

describeIf(needRoot(), needTool('docker-compose'))('Debian docker-compose 1.29 against gantryd', () => {
  let h: GantrydHarness;
  let dir: string;
  let port: number;
  let netnsBefore: string[];

  const netnsDir = () => join(h.dir, 'run', 'netns');
  const netns = () => (fs.existsSync(netnsDir()) ? fs.readdirSync(netnsDir()).sort() : []);

  function compose(args: string[], timeout = 180000): CliResult {
    const r = spawnSync('docker-compose', ['-p', PROJECT, ...args], {
      cwd: dir,
      encoding: 'utf8',
      timeout,
      killSignal: 'SIGKILL',
      // compose builds through the SDK (POST /build) rather than handing off to the docker CLI
      env: { ...h.env(), COMPOSE_DOCKER_CLI_BUILD: '0', DOCKER_BUILDKIT: '0' },
    });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  function composeOk(args: string[]): string {
    const r = compose(args);
    if (r.status !== 0) throw new Error(`docker-compose ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}\ngantryd:\n${h.logTail(20)}`);
    return r.stdout + r.stderr;
  }

  async function containers(service?: string): Promise<ContainerSummary[]> {
    const labels = [`com.docker.compose.project=${PROJECT}`, ...(service ? [`com.docker.compose.service=${service}`] : [])];
    const r = await h.request('GET', `/v1.45/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: labels }))}`);
    expect(r.status).toBe(200);
    return JSON.parse(r.body) as ContainerSummary[];
  }

  async function healthOf(id: string): Promise<string | undefined> {
    const r = await h.request('GET', `/v1.45/containers/${id}/json`);
    return (JSON.parse(r.body) as { State: { Health?: { Status: string } } }).State.Health?.Status;
  }

  beforeAll(async () => {
    h = await sharedGantryd();
    dir = join(h.dir, `compose-${tag}`);
    fs.mkdirSync(join(dir, 'worker'), { recursive: true });
    fs.writeFileSync(
      join(dir, 'worker', 'Dockerfile'),
      'FROM busybox:latest\nCMD ["sh", "-c", "while true; do wget -q -O - http://web/index.html; sleep 1; done"]\n',
    );
    port = await freePort();
    fs.writeFileSync(join(dir, 'docker-compose.yml'), composeFile(port, 'one'));
    netnsBefore = netns();
  }, 120000);

  afterAll(async () => {
    if (!h) return;
    compose(['down', '-v', '--rmi', 'local'], 120000);
    await h.stop();
  }, 180000);

  test('up -d builds the worker, starts web, waits for it to be healthy, then starts the worker', async () => {
    const out = composeOk(['up', '-d']);
    expect(out).toContain('Successfully built');
    expect(out).toMatch(new RegExp(`Creating ${PROJECT}_web_1 \\.\\.\\. done`));
    expect(out).toMatch(new RegExp(`Creating ${PROJECT}_worker_1 \\.\\.\\. done`));
    const [web] = await containers('web');
    // the worker is started only once web reported healthy
    expect(await healthOf(web!.Id)).toBe('healthy');
    expect((await containers()).map((c) => c.State)).toEqual(['running', 'running']);
    const nets = JSON.parse((await h.request('GET', `/v1.45/networks/${PROJECT}_default`)).body) as { IPAM: { Config: { Subnet: string }[] } };
    expect(nets.IPAM.Config[0]!.Subnet).toBe(SUBNET);
  }, 240000);

  test('the published port answers from the host with the file on the named volume', async () => {
    expect(await httpGet(port, '/index.html')).toBe('hello-from-web\n');
  }, 30000);

  test('ps lists both services; logs show the worker fetching from web by service name', async () => {
    const ps = composeOk(['ps']);
    expect(ps).toMatch(new RegExp(`${PROJECT}_web_1 .*Up \\(healthy\\).*127\\.0\\.0\\.1:${port}->80/tcp`));
    expect(ps).toMatch(new RegExp(`${PROJECT}_worker_1 .*Up`));
    const logs = await waitFor('worker logs with the page', () => {
      const l = composeOk(['logs', '--no-color', 'worker']);
      return l.includes('hello-from-web') && l;
    });
    expect(logs).toMatch(/worker_1 +\| hello-from-web/);
  }, 60000);

  test('up -d again recreates nothing', async () => {
    const before = (await containers()).map((c) => c.Id).sort();
    const out = composeOk(['up', '-d']);
    expect(out).toContain(`${PROJECT}_web_1 is up-to-date`);
    expect(out).toContain(`${PROJECT}_worker_1 is up-to-date`);
    expect((await containers()).map((c) => c.Id).sort()).toEqual(before);
  }, 120000);

  test('a changed service is recreated alone', async () => {
    const [web] = await containers('web');
    const [worker] = await containers('worker');
    fs.writeFileSync(join(dir, 'docker-compose.yml'), composeFile(port, 'two'));
    const out = composeOk(['up', '-d']);
    expect(out).toContain(`${PROJECT}_web_1 is up-to-date`);
    expect(out).toMatch(/Recreating .*_worker_1 \.\.\. done/);
    expect((await containers('web')).map((c) => c.Id)).toEqual([web!.Id]);
    const now = await containers('worker');
    expect(now).toHaveLength(1);
    expect(now[0]!.Id).not.toBe(worker!.Id);
    expect(now[0]!.Names).toEqual([`/${PROJECT}_worker_1`]);
    expect(now[0]!.State).toBe('running');
  }, 120000);

  test('up -d --scale worker=3 runs three workers, each reaching web', async () => {
    composeOk(['up', '-d', '--scale', 'worker=3']);
    const workers = await containers('worker');
    expect(workers.map((c) => c.Names[0]).sort()).toEqual([1, 2, 3].map((n) => `/${PROJECT}_worker_${n}`));
    expect(workers.map((c) => c.Labels['com.docker.compose.container-number']).sort()).toEqual(['1', '2', '3']);
    await waitFor('every worker fetched the page', () => {
      const l = composeOk(['logs', '--no-color', 'worker']);
      return [1, 2, 3].every((n) => new RegExp(`worker_${n} +\\| hello-from-web`).test(l));
    });
  }, 180000);

  test('run --rm: a one-off worker reaches web and its own service by the link compose gives it', async () => {
    // compose links the one-off container to its service's containers (HostConfig.Links: worker_1 and others)
    const out = composeOk(['run', '--rm', '-T', 'worker', 'sh', '-c', 'wget -q -O - http://web/index.html && nslookup worker_1 >/dev/null && echo linked']);
    expect(out).toContain('hello-from-web\nlinked');
    expect((await containers()).filter((c) => c.Labels['com.docker.compose.oneoff'] === 'True')).toEqual([]);
  }, 120000);

  test('down -v leaves no container, network, volume, bridge, veth or netns', async () => {
    const net = JSON.parse((await h.request('GET', `/v1.45/networks/${PROJECT}_default`)).body) as { Id: string };
    const bridge = `gt-${net.Id.slice(0, 12)}`;
    expect(spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout).toContain(bridge);
    composeOk(['down', '-v']);
    expect(await containers()).toEqual([]);
    expect((await h.request('GET', `/v1.45/networks/${PROJECT}_default`)).status).toBe(404);
    expect((await h.request('GET', `/v1.45/volumes/${PROJECT}_site`)).status).toBe(404);
    const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
    expect(links.split('\n').filter((l) => l.includes(bridge))).toEqual([]); // the bridge and the veths enslaved to it
    expect(netns()).toEqual(netnsBefore);
  }, 120000);
});
