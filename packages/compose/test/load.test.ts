import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProject, parsePort, parseVolume, type LoadOptions } from '../src';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gcompose-load-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const f = path.join(dir, name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, text);
  return f;
}

const load = (o: LoadOptions = {}) => loadProject({ cwd: dir, env: {}, ...o });

describe('file lookup and project name', () => {
  test('compose.yaml is preferred, its override merged, the name from the directory', () => {
    write('docker-compose.yml', 'services: {old: {image: busybox}}\n');
    write('compose.yaml', 'services: {web: {image: busybox}}\n');
    write('compose.override.yaml', 'services: {web: {command: ["true"]}}\n');
    const p = load();
    expect(Object.keys(p.services)).toEqual(['web']);
    expect(p.services.web!.command).toEqual(['true']);
    expect(p.configFiles).toEqual([path.join(dir, 'compose.yaml'), path.join(dir, 'compose.override.yaml')]);
    expect(p.name).toBe(path.basename(dir).toLowerCase());
  });

  test('found in a parent directory; -p, COMPOSE_PROJECT_NAME and name: in that order', () => {
    write('docker-compose.yaml', 'name: From-File\nservices: {web: {image: busybox}}\n');
    fs.mkdirSync(path.join(dir, 'sub'));
    expect(load({ cwd: path.join(dir, 'sub') }).name).toBe('from-file');
    expect(load({ env: { COMPOSE_PROJECT_NAME: 'env' } }).name).toBe('env');
    expect(load({ projectName: 'Flag.Name', env: { COMPOSE_PROJECT_NAME: 'env' } }).name).toBe('flagname');
  });

  test('no file: an error naming what was looked for', () => {
    expect(() => load({ cwd: '/' })).toThrow(
      /no configuration file provided: not found \(looked for compose\.yaml, compose\.yml, docker-compose\.yml, docker-compose\.yaml/,
    );
  });
});

describe('environment', () => {
  test('.env in the project directory, the process environment winning; --env-file replaces .env', () => {
    write('.env', 'TAG=dotenv\nPORT=81\n');
    write('other.env', 'TAG=other\n');
    write('compose.yaml', 'services:\n  web:\n    image: busybox:${TAG}\n    ports: ["${PORT:-80}:80"]\n');
    expect(load().services.web!.image).toBe('busybox:dotenv');
    expect(load({ env: { TAG: 'shell' } }).services.web!.image).toBe('busybox:shell');
    const p = load({ envFiles: ['other.env'] });
    expect(p.services.web!.image).toBe('busybox:other');
    expect(p.services.web!.ports![0]!.published).toBe('80');
  });

  test('environment lists and maps, env_file under environment, value-less entries from the environment or dropped', () => {
    write('web.env', 'FROM_FILE=1\nBOTH=file\n');
    write(
      'compose.yaml',
      'services:\n  web:\n    image: busybox\n    env_file: web.env\n    environment: [BOTH=env, FROM_SHELL, NOWHERE, "EQ=a=b"]\n  db:\n    image: busybox\n    environment: {N: 1, B: true, E: null}\n',
    );
    const p = load({ env: { FROM_SHELL: 'shell' } });
    expect(p.services.web!.environment).toEqual({ FROM_FILE: '1', BOTH: 'env', FROM_SHELL: 'shell', EQ: 'a=b' });
    expect(p.services.web!.env_file).toBeUndefined();
    expect(p.services.db!.environment).toEqual({ N: '1', B: 'true' });
  });
});

describe('normalisation', () => {
  test('ports: short syntax with IP, ranges, protocol; long syntax kept', () => {
    expect(parsePort('127.0.0.1:8080:80/udp', 'p')).toEqual([{ mode: 'ingress', target: 80, host_ip: '127.0.0.1', published: '8080', protocol: 'udp' }]);
    expect(parsePort(80, 'p')).toEqual([{ mode: 'ingress', target: 80, protocol: 'tcp' }]);
    expect(parsePort('[::1]:9000-9001:80-81', 'p').map((x) => [x.host_ip, x.published, x.target])).toEqual([
      ['::1', '9000', 80],
      ['::1', '9001', 81],
    ]);
    expect(() => parsePort('80:abc', 'services.web.ports[0]')).toThrow('services.web.ports[0]: invalid port "abc"');
  });

  test('volumes: named, bind (relative made absolute), anonymous, modes', () => {
    expect(parseVolume('data:/d:ro,nocopy', '/p', 'v')).toEqual({ type: 'volume', source: 'data', target: '/d', read_only: true, volume: { nocopy: true } });
    expect(parseVolume('./src:/app:z', '/p', 'v')).toEqual({ type: 'bind', source: '/p/src', target: '/app', bind: { create_host_path: true, selinux: 'z' } });
    expect(parseVolume('/cache', '/p', 'v')).toEqual({ type: 'volume', target: '/cache' });
  });

  test('depends_on lists, command strings, healthcheck durations, deploy resources, replicas as scale, default network', () => {
    write(
      'compose.yaml',
      [
        'services:',
        '  db: {image: busybox, healthcheck: {test: "true", interval: 90s, start_period: 1500ms}}',
        '  web:',
        '    build: ./web',
        '    command: sh -c "echo \'a b\'"',
        '    depends_on: [db]',
        '    stop_grace_period: 2m',
        '    deploy: {replicas: 2, resources: {limits: {memory: 64m, cpus: "0.5"}}}',
        '  off: {image: busybox, healthcheck: {test: ["NONE"]}, network_mode: host, scale: 3}',
      ].join('\n'),
    );
    const p = load();
    expect(p.services.db!.healthcheck).toEqual({ test: ['CMD-SHELL', 'true'], interval: '1m30s', start_period: '1.5s' });
    const web = p.services.web!;
    expect(web.command).toEqual(['sh', '-c', "echo 'a b'"]);
    expect(web.depends_on).toEqual({ db: { condition: 'service_started', required: true } });
    expect(web.build).toEqual({ context: path.join(dir, 'web'), dockerfile: 'Dockerfile' });
    expect(web.image).toBe(`${p.name}-web`);
    expect(web.stop_grace_period).toBe('2m0s');
    expect(web.deploy!.resources!.limits).toEqual({ memory: 64 * 1024 * 1024, cpus: '0.5' });
    expect(web.scale).toBe(2);
    expect(web.networks).toEqual({ default: null });
    expect(p.networks).toEqual({ default: { name: `${p.name}_default` } });
    expect(p.services.off).toMatchObject({ healthcheck: { disable: true }, scale: 3 });
    expect(p.services.off!.networks).toBeUndefined();
  });
});

describe('merging several -f files', () => {
  test('mappings merged, most sequences replaced, ports appended, volumes by target', () => {
    write(
      'a.yml',
      'services:\n  web:\n    image: busybox\n    command: [a]\n    environment: [A=1, B=1]\n    labels: {x: "1"}\n    ports: ["80:80"]\n    volumes: ["v1:/data", "v2:/keep"]\n    dns: [1.1.1.1]\nvolumes: {v1: {}, v2: {}, v3: {}}\n',
    );
    write(
      'b.yml',
      'services:\n  web:\n    image: busybox:2\n    command: [b]\n    environment: {B: "2", C: "3"}\n    labels: [y=2]\n    ports: ["80:80", "81:81"]\n    volumes: ["v3:/data"]\n    dns: [8.8.8.8]\n  extra: {image: busybox}\n',
    );
    const p = load({ files: ['a.yml', 'b.yml'] });
    const web = p.services.web!;
    expect(web.image).toBe('busybox:2');
    expect(web.command).toEqual(['b']);
    expect(web.environment).toEqual({ A: '1', B: '2', C: '3' });
    expect(web.labels).toEqual({ x: '1', y: '2' });
    expect(web.ports!.map((x) => x.published)).toEqual(['80', '81']);
    expect(web.volumes!.map((v) => `${v.source}:${v.target}`)).toEqual(['v3:/data', 'v2:/keep']);
    expect(web.dns).toEqual(['1.1.1.1', '8.8.8.8']);
    expect(Object.keys(p.services)).toEqual(['web', 'extra']);
  });
});

describe('extends', () => {
  test('from the same file and from another file (its paths relative to that file), chained', () => {
    write(
      'common/base.yml',
      'services:\n  base:\n    image: busybox\n    env_file: base.env\n    environment: {LEVEL: base, KEEP: "1"}\n    volumes: ["./data:/data"]\n',
    );
    write('common/base.env', 'FROM_BASE_FILE=yes\n');
    write(
      'compose.yaml',
      'services:\n  mid:\n    extends: {file: common/base.yml, service: base}\n    environment: {LEVEL: mid}\n  web:\n    extends: mid\n    command: ["true"]\n',
    );
    const p = load();
    expect(p.services.web!.environment).toEqual({ FROM_BASE_FILE: 'yes', LEVEL: 'mid', KEEP: '1' });
    expect(p.services.web!.volumes![0]!.source).toBe(path.join(dir, 'common', 'data'));
    expect(p.services.web!.command).toEqual(['true']);
    expect(p.services.web!.extends).toBeUndefined();
  });

  test('a missing base service and a circular extends are errors naming them', () => {
    write('x.yml', 'services:\n  web: {extends: {service: nope}}\n');
    expect(() => load({ files: ['x.yml'] })).toThrow(`${path.join(dir, 'x.yml')}: services.web.extends: service "nope" not found`);
    write('y.yml', 'services:\n  a: {image: busybox, extends: b}\n  b: {image: busybox, extends: a}\n');
    expect(() => load({ files: ['y.yml'] })).toThrow(/services\.\w\.extends: circular reference/);
  });
});

describe('profiles', () => {
  test('services with profiles only when one is active (--profile, COMPOSE_PROFILES, *)', () => {
    write('compose.yaml', 'services:\n  web: {image: busybox}\n  debug: {image: busybox, profiles: [dev]}\n  tools: {image: busybox, profiles: [ops, dev]}\n');
    expect(Object.keys(load().services)).toEqual(['web']);
    expect(Object.keys(load().disabledServices)).toEqual(['debug', 'tools']);
    expect(Object.keys(load({ profiles: ['ops'] }).services)).toEqual(['web', 'tools']);
    expect(Object.keys(load({ env: { COMPOSE_PROFILES: 'dev' } }).services)).toEqual(['web', 'debug', 'tools']);
    expect(Object.keys(load({ profiles: ['*'] }).services)).toHaveLength(3);
  });

  test('depending on a service of an inactive profile is an error saying so', () => {
    write('compose.yaml', 'services:\n  web: {image: busybox, depends_on: [debug]}\n  debug: {image: busybox, profiles: [dev]}\n');
    expect(() => load()).toThrow('services.web.depends_on: service "debug" is undefined (it is not in an active profile)');
  });
});

describe('errors name the file, the service and the key', () => {
  const file = () => path.join(dir, 'compose.yaml');
  test.each([
    ['services:\n  web:\n    image: [busybox\n', /^invalid YAML: line \d+, column \d+: /],
    ['services:\n  web: {image: busybox}\n  web: {image: busybox}\n', /^invalid YAML: .*Map keys must be unique/],
    ['services:\n  web:\n    image: busybox\n    ports: {a: 1}\n', /^services\.web\.ports: must be array$/],
    ['services:\n  web:\n    image: busybox\n    restart: 3\n', /^services\.web\.restart: must be string$/],
    ['servics: {}\n', /^additional property 'servics' is not allowed$/],
    ['services:\n  web:\n    image: busybox\n    healthcheck: {interval: 1x}\n', /^services\.web\.healthcheck\.interval: invalid duration "1x"$/],
    ['services:\n  web: {build: {dockerfile: D}, image: 1}\n', /^services\.web\.image: must be string$/],
    ['services:\n  web: {command: ["true"]}\n', /^services\.web: has neither an image nor a build context specified$/],
    ['services:\n  web: {image: busybox, volumes: ["data:/d"]}\n', /^services\.web\.volumes: named volume "data" is used but no declaration was found/],
    ['services:\n  web: {image: busybox, networks: [back]}\n', /^services\.web\.networks: network "back" is undefined$/],
    ['services:\n  web: {image: busybox, depends_on: [db]}\n', /^services\.web\.depends_on: service "db" is undefined$/],
    ['', /^empty compose file$/],
  ])('%j', (text, message) => {
    write('compose.yaml', text);
    let err: Error | undefined;
    try {
      load();
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message.startsWith(`${file()}: `)).toBe(true);
    expect(err?.message.slice(file().length + 2)).toMatch(message);
  });
});
