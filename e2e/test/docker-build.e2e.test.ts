/**
 * The classic builder (`DOCKER_BUILDKIT=0 docker build`, POST /build) and `docker commit`
 * (POST /commit) through the real docker CLI against the shared gantryd: a multi-stage build that
 * makes a program with busybox tools and copies it into the final image, its config and history,
 * the cache across identical and changed rebuilds, .dockerignore, --target, build args, and bad
 * input that fails clearly and leaves no tagged image and no container.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@gantry/testkit';
import { GantrydHarness, sharedGantryd } from '../src/gantryd';

interface Built {
  status: number | null;
  out: string;
}

describe('docker build (classic builder) and docker commit against gantryd', () => {
  let h: GantrydHarness;
  let ctx: string;

  /** `docker build` with the classic builder; stdout and stderr together, as a user sees them. */
  function build(args: string[], dir = ctx): Built {
    const r = spawnSync('docker', ['build', ...args, dir], {
      encoding: 'utf8',
      timeout: 180000,
      killSignal: 'SIGKILL',
      env: { ...h.env(), DOCKER_BUILDKIT: '0' },
    });
    return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  }

  function buildOk(args: string[], dir = ctx): string {
    const r = build(args, dir);
    if (r.status !== 0) throw new Error(`docker build ${args.join(' ')}: exit ${r.status}:\n${r.out}\n${h.logTail()}`);
    return r.out;
  }

  const write = (dir: string, files: Record<string, string>) => {
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(join(dir, name, '..'), { recursive: true });
      fs.writeFileSync(join(dir, name), text);
    }
  };

  /** The steps of a build's output: each "Step n/m : ..." line with whether it said "Using cache". */
  const steps = (out: string) =>
    out
      .split(/^Step \d+\/\d+ : /m)
      .slice(1)
      .map((s) => ({ instruction: s.split('\n')[0]!, cached: s.includes(' ---> Using cache') }));

  const MULTI = [
    'FROM busybox AS build',
    'ARG WHO=world',
    'WORKDIR /src',
    'COPY src/ ./',
    'RUN sed "s/@WHO@/$WHO/" greet.in > greet && chmod 755 greet && tar -cf /greet.tar greet',
    '',
    'FROM scratch AS artifact',
    'COPY --from=build /greet.tar /',
    '',
    'FROM busybox',
    'ENV GREETING=hello',
    'LABEL org.example.kind=demo \\',
    '      org.example.stage=final',
    'WORKDIR /app',
    'COPY --from=build /src/greet /usr/local/bin/greet',
    'COPY --chown=app:nogroup data.txt ./',
    'EXPOSE 8080/tcp',
    'USER 1000:1000',
    'CMD ["greet"]',
    '',
  ].join('\n');

  beforeAll(async () => {
    h = await sharedGantryd();
    ctx = join(h.dir, 'build-ctx');
    fs.mkdirSync(ctx, { recursive: true });
    write(ctx, {
      Dockerfile: MULTI,
      'src/greet.in': '#!/bin/sh\necho "$GREETING, @WHO@ from $(pwd)"\ncat /app/data.txt\n',
      'data.txt': 'data v1\n',
      'secret.txt': 'do not send\n',
      '.dockerignore': 'secret.txt\n',
    });
  }, 120000);

  afterAll(async () => {
    await h?.stop();
  }, 120000);

  it('builds a multi-stage image: the program made in one stage runs in the final image with its config', () => {
    const out = buildOk(['-t', 'gbuild/app:v1', '--build-arg', 'WHO=gantry']);
    expect(out).toContain('Step 1/16 : FROM busybox AS build');
    expect(out).toMatch(/ ---> Running in [0-9a-f]{12}\n/);
    expect(out).toMatch(/ ---> Removed intermediate container [0-9a-f]{12}\n/);
    expect(out).toMatch(/Successfully built [0-9a-f]{12}\nSuccessfully tagged gbuild\/app:v1\n/);
    expect(h.ok(['run', '--rm', 'gbuild/app:v1'])).toBe('hello, gantry from /app\ndata v1\n');
    const [img] = JSON.parse(h.ok(['image', 'inspect', 'gbuild/app:v1'])) as {
      Config: { Cmd: string[]; Env: string[]; User: string; WorkingDir: string; ExposedPorts: Record<string, object>; Labels: Record<string, string> };
      RootFS: { Layers: string[] };
    }[];
    expect(img!.Config.Cmd).toEqual(['greet']);
    expect(img!.Config.Env).toContain('GREETING=hello');
    expect(img!.Config.User).toBe('1000:1000');
    expect(img!.Config.WorkingDir).toBe('/app');
    expect(Object.keys(img!.Config.ExposedPorts)).toEqual(['8080/tcp']);
    expect(img!.Config.Labels).toEqual({ 'org.example.kind': 'demo', 'org.example.stage': 'final' });
    // busybox's layer, WORKDIR's (it made /app) and the two COPYs
    expect(img!.RootFS.Layers).toHaveLength(4);
    // the ARG's value is not kept in the image
    expect(img!.Config.Env.some((e) => e.startsWith('WHO='))).toBe(false);
    // --chown by name, looked up in the image's /etc/passwd and /etc/group
    expect(h.ok(['run', '--rm', 'gbuild/app:v1', 'stat', '-c', '%U:%G %u:%g', '/app/data.txt'])).toBe('app:nogroup 1000:65534\n');
    // no container left behind by the RUN step
    expect(h.ok(['ps', '-aq', '--filter', 'ancestor=busybox'])).toBe('');
  }, 180000);

  it('docker history lists the steps, named by the images they made', () => {
    const rows = h
      .ok(['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}', 'gbuild/app:v1'])
      .trim()
      .split('\n')
      .map((l) => l.split('|'));
    const by = rows.map((r) => r[1]!);
    expect(by[0]).toBe('/bin/sh -c #(nop)  CMD ["greet"]');
    expect(by.some((b) => b.includes('USER 1000:1000'))).toBe(true);
    expect(by.some((b) => b.includes('EXPOSE 8080/tcp'))).toBe(true);
    // Docker glues --chown to the hash: "COPY --chown=app:nogroupfile:<hex> in /app/ "
    expect(by.filter((b) => / COPY (--chown=\S+?)?(file|dir|multi):[0-9a-f]{64} in /.test(b))).toHaveLength(2);
    // every step of this build has its image ID; busybox's own row has none
    expect(rows.slice(0, 8).every((r) => /^sha256:[0-9a-f]{64}$/.test(r[0]!))).toBe(true);
    expect(rows[rows.length - 1]![0]).toMatch(/^sha256:|<missing>/);
  });

  it('an identical rebuild takes every step from the cache and gives the same image', () => {
    const id = h.ok(['image', 'inspect', '--format', '{{.Id}}', 'gbuild/app:v1']).trim();
    const out = buildOk(['-t', 'gbuild/app:v1', '--build-arg', 'WHO=gantry']);
    const s = steps(out).filter((x) => !x.instruction.startsWith('FROM'));
    expect(s.length).toBe(13);
    expect(s.filter((x) => !x.cached)).toEqual([]);
    expect(h.ok(['image', 'inspect', '--format', '{{.Id}}', 'gbuild/app:v1']).trim()).toBe(id);
  }, 180000);

  it('changing one copied file runs that COPY and what follows it again, the steps before come from the cache', () => {
    fs.writeFileSync(join(ctx, 'data.txt'), 'data v2\n');
    const out = buildOk(['-t', 'gbuild/app:v2', '--build-arg', 'WHO=gantry']);
    const final = steps(out).slice(steps(out).findIndex((x) => x.instruction === 'FROM busybox'));
    const at = final.findIndex((x) => x.instruction === 'COPY --chown=app:nogroup data.txt ./');
    expect(final.slice(1, at).every((x) => x.cached)).toBe(true);
    expect(final.slice(at).some((x) => x.cached)).toBe(false);
    expect(h.ok(['run', '--rm', 'gbuild/app:v2'])).toBe('hello, gantry from /app\ndata v2\n');
  }, 180000);

  it('--no-cache runs every step again', () => {
    const out = buildOk(['--no-cache', '-t', 'gbuild/app:nocache', '--build-arg', 'WHO=gantry']);
    expect(out).not.toContain('Using cache');
  }, 180000);

  it('.dockerignore keeps files out of the context; --target stops at a stage', () => {
    write(ctx, { 'Dockerfile.ctx': 'FROM busybox\nCOPY . /ctx/\nCMD ["ls", "/ctx"]\n' });
    buildOk(['-f', join(ctx, 'Dockerfile.ctx'), '-t', 'gbuild/ctx:v1']);
    const listed = h.ok(['run', '--rm', 'gbuild/ctx:v1']).split('\n');
    expect(listed).toContain('data.txt');
    expect(listed).not.toContain('secret.txt');

    // WORKDIR makes its directory in the image (seen from another working directory)
    write(ctx, { 'Dockerfile.wd': 'FROM busybox\nWORKDIR /made/here\nWORKDIR /etc\n' });
    buildOk(['-f', join(ctx, 'Dockerfile.wd'), '-t', 'gbuild/wd:v1']);
    expect(h.ok(['run', '--rm', '-w', '/', 'gbuild/wd:v1', 'ls', '-d', '/made/here'])).toBe('/made/here\n');
    const wdLayers = JSON.parse(h.ok(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'gbuild/wd:v1'])) as string[];
    expect(wdLayers).toHaveLength(2); // busybox's and /made/here's: /etc was there already

    buildOk(['--target', 'artifact', '-t', 'gbuild/artifact:v1', '--build-arg', 'WHO=gantry']);
    const layers = JSON.parse(h.ok(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'gbuild/artifact:v1'])) as string[];
    expect(layers).toHaveLength(1); // FROM scratch + one COPY
    const bad = build(['--target', 'nope', '-t', 'gbuild/nope:v1']);
    expect(bad.status).not.toBe(0);
    expect(bad.out).toContain('failed to reach build target nope in Dockerfile');
  }, 180000);

  it('-q prints only the image ID; --label adds a LABEL step; an unused --build-arg is warned about', () => {
    write(ctx, { 'Dockerfile.small': 'FROM busybox\nENV SMALL=1\n' });
    const id = buildOk(['-q', '-f', join(ctx, 'Dockerfile.small'), '--label', 'built.by=gantry', '-t', 'gbuild/small:v1'])
      .split('\n')
      .filter((l) => l.startsWith('sha256:'));
    expect(id).toEqual([h.ok(['image', 'inspect', '--format', '{{.Id}}', 'gbuild/small:v1']).trim()]);
    expect(h.ok(['image', 'inspect', '--format', '{{json .Config.Labels}}', 'gbuild/small:v1']).trim()).toBe('{"built.by":"gantry"}');
    const out = buildOk(['-f', join(ctx, 'Dockerfile.small'), '--build-arg', 'UNUSED=1', '-t', 'gbuild/small:v1']);
    expect(out).toContain('[Warning] One or more build-args [UNUSED] were not consumed');
  }, 180000);

  it('ONBUILD triggers run when an image is built FROM the image that has them, and are not inherited', () => {
    write(ctx, {
      'Dockerfile.onbase': 'FROM busybox\nONBUILD COPY data.txt /onbuild/\nONBUILD RUN wc -c < /onbuild/data.txt > /onbuild/size\n',
      'Dockerfile.onchild': 'FROM gbuild/onbase:v1\nCMD ["cat", "/onbuild/size"]\n',
    });
    buildOk(['-f', join(ctx, 'Dockerfile.onbase'), '-t', 'gbuild/onbase:v1']);
    const out = buildOk(['-f', join(ctx, 'Dockerfile.onchild'), '-t', 'gbuild/onchild:v1']);
    expect(out).toContain('# Executing 2 build triggers');
    expect(h.ok(['run', '--rm', 'gbuild/onchild:v1']).trim()).toBe(String(fs.statSync(join(ctx, 'data.txt')).size));
    expect(h.ok(['image', 'inspect', '--format', '{{json .Config.OnBuild}}', 'gbuild/onchild:v1']).trim()).toBe('null');
  }, 180000);

  it('ADD extracts a local tar.gz and downloads a URL (mode 0600); COPY copies the archive as it is', async () => {
    const dir = join(h.dir, 'build-add');
    write(dir, { 'pkg/inner/p.txt': 'payload\n' });
    const t = spawnSync('tar', ['-czf', join(dir, 'pkg.tar.gz'), '-C', join(dir, 'pkg'), '.'], { encoding: 'utf8' });
    if (t.status !== 0) throw new Error(t.stderr);
    const server = http.createServer((_req, res) => res.end('served\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      write(dir, {
        Dockerfile: [
          'FROM busybox',
          'ADD pkg.tar.gz /opt/pkg/',
          `ADD http://127.0.0.1:${port}/files/served.txt /web/`,
          'COPY pkg.tar.gz /raw/',
          'CMD ["sh", "-c", "cat /opt/pkg/inner/p.txt /web/served.txt; stat -c %a /web/served.txt; ls /raw"]',
        ].join('\n'),
      });
      const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn('docker', ['build', '-t', 'gbuild/add:v1', dir], { env: { ...h.env(), DOCKER_BUILDKIT: '0' } });
        let out = '';
        c.stdout.on('data', (b: Buffer) => (out += b.toString()));
        c.stderr.on('data', (b: Buffer) => (out += b.toString()));
        c.on('exit', (code) => resolve({ code, out }));
      });
      expect(r.out).toContain('Successfully tagged gbuild/add:v1');
      expect(r.code).toBe(0);
    } finally {
      server.close();
    }
    expect(h.ok(['run', '--rm', 'gbuild/add:v1'])).toBe('payload\nserved\n600\npkg.tar.gz\n');
  }, 180000);

  it('an interrupted build stops its RUN container and leaves nothing behind', async () => {
    const dir = join(h.dir, 'build-cancel');
    write(dir, { Dockerfile: 'FROM busybox\nRUN echo started; sleep 60\n' });
    const before = h.ok(['ps', '-aq']);
    const c = spawn('docker', ['build', '-t', 'gbuild/cancelled:v1', dir], { env: { ...h.env(), DOCKER_BUILDKIT: '0' } });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise((r) => c.once('exit', r));
    await waitFor('the RUN step to start', () => /^started$/m.test(out), 60000);
    c.kill('SIGKILL');
    await exited;
    await waitFor('the RUN container to go', () => h.ok(['ps', '-aq']) === before, 30000);
    expect(h.docker(['image', 'inspect', 'gbuild/cancelled:v1']).status).not.toBe(0);
  }, 120000);

  describe('bad input fails clearly and leaves no tagged image or container', () => {
    const cases: [string, string, RegExp, number][] = [
      ['unknown instruction', 'FROM busybox\nRUN true\nFOO bar\n', /dockerfile parse error on line 3: unknown instruction: FOO/i, 1],
      [
        'missing COPY source',
        'FROM busybox\nCOPY nothing-here.txt /x\n',
        /COPY failed: file not found in build context or excluded by \.dockerignore: stat nothing-here\.txt: file does not exist/,
        1,
      ],
      ['failing RUN', 'FROM busybox\nRUN echo before && false\n', /The command '\/bin\/sh -c echo before && false' returned a non-zero code: 1/, 1],
      ['RUN exit code', 'FROM busybox\nRUN exit 7\n', /returned a non-zero code: 7/, 7],
      ['FROM of an empty reference', 'ARG IMAGE\nFROM $IMAGE\n', /base name \(\$IMAGE\) should not be blank/, 1],
      ['FROM without an image', 'FROM busybox\nRUN true\nFROM\n', /line 3: FROM requires either one or three arguments/, 1],
    ];
    it.each(cases)(
      '%s',
      (_name, dockerfile, message, code) => {
        const dir = join(h.dir, `bad-${code}-${Math.random().toString(16).slice(2, 8)}`);
        write(dir, { Dockerfile: dockerfile });
        const before = h.ok(['ps', '-aq']);
        const r = build(['-t', 'gbuild/bad:v1'], dir);
        expect(r.out).toMatch(message);
        expect(r.status).toBe(code);
        expect(h.docker(['image', 'inspect', 'gbuild/bad:v1']).status).not.toBe(0);
        expect(h.ok(['ps', '-aq'])).toBe(before);
        // no step or view snapshot of the builder's, no lease left in gantry-containerd
        const ctr = (...args: string[]) => {
          const c = spawnSync('ctr', ['--address', join(h.dir, 'run', 'containerd', 'containerd.sock'), '-n', 'gantry', ...args], { encoding: 'utf8' });
          if (c.status !== 0) throw new Error(c.stderr);
          return c.stdout;
        };
        expect(ctr('snapshots', 'ls').match(/^build-\S+/gm)).toBeNull();
        expect(ctr('leases', 'ls').match(/^(build|commit)-\S+/gm)).toBeNull();
      },
      180000,
    );

    it('gantryd applies .dockerignore itself to a context an API client sends whole', async () => {
      const body = tarOf([
        [
          'Dockerfile',
          'FROM busybox\nCOPY . /ctx/\nRUN test ! -e /ctx/secret.txt && test ! -e /ctx/logs/a.log && test -e /ctx/logs/keep.log && test -e /ctx/app.txt\n',
        ],
        ['.dockerignore', 'secret.txt\nlogs/*.log\n!logs/keep.log\n'],
        ['secret.txt', 'do not copy\n'],
        ['app.txt', 'app\n'],
        ['logs/a.log', 'a\n'],
        ['logs/keep.log', 'kept\n'],
      ]);
      const r = await h.request('POST', '/v1.45/build?t=gbuild/ignored:v1', body, { 'Content-Type': 'application/x-tar' });
      expect(r.status).toBe(200);
      expect(r.body).toContain('Successfully tagged gbuild/ignored:v1');
    }, 120000);

    it('a context whose tar has a ".." member is refused before anything is written', async () => {
      const body = tarOf([
        ['Dockerfile', 'FROM busybox\nCOPY . /x/\n'],
        ['../escape.txt', 'out of the context\n'],
      ]);
      const r = await h.request('POST', '/v1.45/build?t=gbuild/bad:v1', body, { 'Content-Type': 'application/x-tar' });
      expect(r.status).toBe(400);
      expect(r.body).toContain('path escapes the extraction root');
      expect(h.docker(['image', 'inspect', 'gbuild/bad:v1']).status).not.toBe(0);
      expect(fs.existsSync(join(h.dir, 'data', 'escape.txt'))).toBe(false);
    });
  });

  it('docker commit makes an image of a container with its changes and --change instructions', () => {
    h.ok(['run', '--name', 'gbuild-commit', 'busybox', 'sh', '-c', 'mkdir /state && echo kept > /state/file']);
    const id = h
      .ok([
        'commit',
        '--change',
        'ENV MODE=committed',
        '--change',
        'CMD ["cat", "/state/file"]',
        '--change',
        'WORKDIR /state',
        '-m',
        'a message',
        '-a',
        'the author',
        'gbuild-commit',
        'gbuild/committed:v1',
      ])
      .trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(h.ok(['run', '--rm', 'gbuild/committed:v1'])).toBe('kept\n');
    expect(h.ok(['run', '--rm', 'gbuild/committed:v1', 'sh', '-c', 'echo $MODE $(pwd)'])).toBe('committed /state\n');
    const [img] = JSON.parse(h.ok(['image', 'inspect', 'gbuild/committed:v1'])) as {
      Id: string;
      Comment: string;
      Author: string;
      Parent: string;
      RootFS: { Layers: string[] };
    }[];
    expect(img!.Id).toBe(id);
    expect(img!.Comment).toBe('a message');
    expect(img!.Author).toBe('the author');
    expect(img!.Parent).toBe(h.ok(['image', 'inspect', '--format', '{{.Id}}', 'busybox']).trim());
    const top = h.ok(['history', '--format', '{{.CreatedBy}}|{{.Comment}}', 'gbuild/committed:v1']).split('\n')[0];
    expect(top).toBe('sh -c mkdir /state && echo kept > /state/file|a message');
    const bad = h.docker(['commit', '--change', 'NOPE x', 'gbuild-commit', 'gbuild/x:v1']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('NOPE is not a valid change command');
    expect(h.docker(['image', 'inspect', 'gbuild/x:v1']).status).not.toBe(0);
    h.ok(['rm', 'gbuild-commit']);
  }, 120000);
});

/** A plain ustar archive of `files` (names as given, "../" included). */
function tarOf(files: [string, string][]): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, text] of files) {
    const data = Buffer.from(text);
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write(
      `${Math.floor(Date.now() / 1000)
        .toString(8)
        .padStart(11, '0')}\0`,
      136,
    );
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

describe('the build cache survives a gantryd restart', () => {
  let h: GantrydHarness;

  beforeAll(async () => {
    h = await GantrydHarness.start('gbr-');
    h.loadBusybox();
  }, 120000);

  afterAll(async () => {
    await h?.stop();
  }, 120000);

  it('a rebuild after the restart takes every step from the cache', async () => {
    const dir = join(h.dir, 'ctx');
    fs.mkdirSync(dir);
    fs.writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY Dockerfile /df\nRUN echo ran > /ran\nENV A=b\n');
    const run = () => {
      const r = spawnSync('docker', ['build', '-t', 'restart:v1', dir], { encoding: 'utf8', timeout: 120000, env: { ...h.env(), DOCKER_BUILDKIT: '0' } });
      if (r.status !== 0) throw new Error(`${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    expect(run()).not.toContain('Using cache');
    const id = h.ok(['image', 'inspect', '--format', '{{.Id}}', 'restart:v1']).trim();
    await h.stopDaemon('SIGTERM');
    await h.startDaemon();
    const again = run();
    expect(again.match(/ ---> Using cache/g)).toHaveLength(3);
    expect(h.ok(['image', 'inspect', '--format', '{{.Id}}', 'restart:v1']).trim()).toBe(id);
    // the intermediate images are listed with -a only, and go with the image they led to
    const busybox = h.ok(['image', 'inspect', '--format', '{{.Id}}', 'busybox']).trim();
    expect(h.ok(['images', '-q', '--no-trunc']).trim().split('\n').sort()).toEqual([busybox, id].sort());
    expect(new Set(h.ok(['images', '-aq', '--no-trunc']).trim().split('\n')).size).toBe(4); // busybox, COPY, RUN, ENV
    const removed = h.ok(['rmi', 'restart:v1']);
    expect(removed.match(/^Deleted: /gm)).toHaveLength(3);
    expect(h.ok(['images', '-aq', '--no-trunc']).trim()).toBe(busybox);
  }, 180000);
});
