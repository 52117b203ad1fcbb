/**
 * Kubernetes' CRI on gantry-containerd through the generated gRPC client: pod and container
 * lifecycle with an event for each transition, two containers sharing a pod's localhost, host
 * devices, ExecSync, CRI-format logs, stats, bad input, a daemon restart with pods running, and
 * nothing left after 20 pods are removed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cri } from '@gantry/api';
import { describeIf, freePort, needRoot, needTool, waitFor } from '@gantry/testkit';
import { BUSYBOX, CriHarness } from '../src/cri';

jest.setTimeout(240_000);

const code = async (p: Promise<unknown>): Promise<{ code: number; details: string }> => {
  try {
    await p;
  } catch (e) {
    const err = e as { code: number; details: string };
    return { code: err.code, details: err.details };
  }
  throw new Error('the call succeeded');
};

/** Network namespaces, veths on our bridge, IPAM leases, pod cgroups and mounts the harness can see. */
function leftovers(h: CriHarness): Record<string, string[]> {
  const ls = (d: string) => (existsSync(d) ? readdirSync(d) : []);
  const veths = spawnSync('ip', ['-o', 'link', 'show', 'master', h.opts.bridge], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  const leases = ls(join(h.ipamDir, `${h.opts.bridge}-net`)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  const cgroups = ['memory', 'cpu', 'pids'].flatMap((c) => ls(join('/sys/fs/cgroup', c, h.cgroupParent)).filter((f) => /^[0-9a-f]{64}$/.test(f)));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(h.stateDir) || l.includes(join(h.d.root, 'snapshots')));
  return { netns: ls(join(h.stateDir, 'pods')), veths, leases, cgroups, mounts };
}

describeIf(
  needRoot(),
  needTool('ctr', 'containerd'),
  needTool('wget'),
)('CRI on gantry-containerd', () => {
  const h = new CriHarness({ bridge: 'gcri-e2e0', subnet: '10.211.7' });

  beforeAll(() => h.start());
  afterAll(() => h.stop());

  test('Version, Status and RuntimeConfig', async () => {
    const v = await h.call(h.runtime, h.runtime.version, cri.VersionRequest.fromPartial({}));
    expect(v).toMatchObject({ runtimeName: 'gantry', runtimeApiVersion: 'v1' });
    const s = await h.call(h.runtime, h.runtime.status, cri.StatusRequest.fromPartial({}));
    expect(s.status?.conditions.map((c) => [c.type, c.status])).toEqual([
      ['RuntimeReady', true],
      ['NetworkReady', true],
    ]);
    const rc = await h.call(h.runtime, h.runtime.runtimeConfig, {});
    expect(rc.linux?.cgroupDriver).toBe(cri.CgroupDriver.CGROUPFS);
  });

  test('a pod and a container go through their lifecycle, with an event at each transition, and filters list them', async () => {
    const events: [cri.ContainerEventType, string][] = [];
    const stream = h.events();
    stream.on('data', (e: cri.ContainerEventResponse) => events.push([e.containerEventType, e.containerId]));
    stream.on('error', () => undefined);
    try {
      const pod = await h.runPod('life');
      const st = await h.call(h.runtime, h.runtime.podSandboxStatus, cri.PodSandboxStatusRequest.fromPartial({ podSandboxId: pod.id }));
      expect(st.status?.state).toBe(cri.PodSandboxState.SANDBOX_READY);
      expect(st.status?.network?.ip).toMatch(/^10\.211\.7\.\d+$/);
      const id = await h.runContainer(pod, 'main', 'sleep 1000');
      const running = await h.call(h.runtime, h.runtime.containerStatus, cri.ContainerStatusRequest.fromPartial({ containerId: id, verbose: true }));
      expect(running.status?.state).toBe(cri.ContainerState.CONTAINER_RUNNING);
      expect(JSON.parse(running.info.info!)).toMatchObject({ sandboxID: pod.id });

      const byLabel = await h.call(
        h.runtime,
        h.runtime.listContainers,
        cri.ListContainersRequest.fromPartial({ filter: { labelSelector: { ctr: 'main' }, podSandboxId: pod.id } }),
      );
      expect(byLabel.containers.map((c) => c.id)).toEqual([id]);
      const none = await h.call(
        h.runtime,
        h.runtime.listContainers,
        cri.ListContainersRequest.fromPartial({ filter: { podSandboxId: pod.id, state: { state: cri.ContainerState.CONTAINER_EXITED } } }),
      );
      expect(none.containers).toEqual([]);
      const pods = await h.call(h.runtime, h.runtime.listPodSandbox, cri.ListPodSandboxRequest.fromPartial({ filter: { labelSelector: { pod: 'life' } } }));
      expect(pods.items.map((p) => p.id)).toEqual([pod.id]);

      // sh as pid 1 ignores SIGTERM: the stop ends with SIGKILL after the timeout
      await h.call(h.runtime, h.runtime.stopContainer, cri.StopContainerRequest.fromPartial({ containerId: id, timeout: 1n }));
      const stopped = await h.call(h.runtime, h.runtime.containerStatus, cri.ContainerStatusRequest.fromPartial({ containerId: id }));
      expect(stopped.status).toMatchObject({ state: cri.ContainerState.CONTAINER_EXITED, exitCode: 137, reason: 'Error' });
      await h.call(h.runtime, h.runtime.removeContainer, { containerId: id });
      await h.removePod(pod.id);
      const after = await h.call(h.runtime, h.runtime.listPodSandbox, cri.ListPodSandboxRequest.fromPartial({ filter: { id: pod.id } }));
      expect(after.items).toEqual([]);

      const mine = () => events.filter(([, c]) => c === id).map(([t]) => t);
      await waitFor('four events', () => mine().length >= 4);
      expect(mine()).toEqual([
        cri.ContainerEventType.CONTAINER_CREATED_EVENT,
        cri.ContainerEventType.CONTAINER_STARTED_EVENT,
        cri.ContainerEventType.CONTAINER_STOPPED_EVENT,
        cri.ContainerEventType.CONTAINER_DELETED_EVENT,
      ]);
    } finally {
      stream.cancel();
    }
  });

  test('two containers of a pod share its localhost; ExecSync returns output and exit code, and times out', async () => {
    const pod = await h.runPod('pair');
    try {
      await h.runContainer(pod, 'server', 'mkdir -p /www && echo shared-localhost > /www/index.html && exec httpd -f -p 8080 -h /www');
      const client = await h.runContainer(pod, 'client', 'sleep 1000');
      const fetched = await waitFor('the client to reach the server on 127.0.0.1', async () => {
        const r = await h.call(
          h.runtime,
          h.runtime.execSync,
          cri.ExecSyncRequest.fromPartial({ containerId: client, cmd: ['wget', '-qO-', 'http://127.0.0.1:8080/index.html'], timeout: 5n }),
        );
        return r.exitCode === 0 ? r : undefined;
      });
      expect(fetched.stdout.toString()).toBe('shared-localhost\n');

      const r = await h.call(
        h.runtime,
        h.runtime.execSync,
        cri.ExecSyncRequest.fromPartial({ containerId: client, cmd: ['sh', '-c', 'echo out; echo err >&2; exit 7'], timeout: 10n }),
      );
      expect({ code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() }).toEqual({ code: 7, out: 'out\n', err: 'err\n' });

      const t0 = Date.now();
      const slow = await code(
        h.call(h.runtime, h.runtime.execSync, cri.ExecSyncRequest.fromPartial({ containerId: client, cmd: ['sleep', '30'], timeout: 1n })),
      );
      expect(slow.code).toBe(4); // DEADLINE_EXCEEDED
      expect(Date.now() - t0).toBeLessThan(15000);
    } finally {
      await h.removePod(pod.id);
    }
  });

  test("a pod's port mapping publishes a container port on the host", async () => {
    const hostPort = await freePort();
    const pod = await h.runPod('ports', { portMappings: [cri.PortMapping.fromPartial({ protocol: cri.Protocol.TCP, containerPort: 8080, hostPort })] });
    try {
      await h.runContainer(pod, 'web', 'mkdir -p /www && echo published > /www/index.html && exec httpd -f -p 8080 -h /www');
      // the bridge's gateway address is the host's: the portmap plugin's DNAT for local traffic
      const body = await waitFor('the published port to answer', async () => {
        const r = spawnSync('wget', ['-qO-', '-T', '2', `http://${h.opts.subnet}.1:${hostPort}/index.html`], { encoding: 'utf8' });
        return r.status === 0 ? r.stdout : undefined;
      });
      expect(body).toBe('published\n');
    } finally {
      await h.removePod(pod.id);
    }
  });

  test("a container's devices: a host directory's nodes at its container path, usable with rwm and refused with m only", async () => {
    // /dev/net/tun (10:200) is outside the runtime's default devices; read on an unattached tun
    // fails with EBADFD once the cgroup lets it open, with EPERM when it does not
    expect(existsSync('/dev/net/tun')).toBe(true);
    const pod = await h.runPod('devices');
    try {
      const run = async (name: string, device: cri.Device) => {
        const id = await h.runContainer(pod, name, 'sleep 1000', { devices: [device] });
        const r = await h.call(
          h.runtime,
          h.runtime.execSync,
          cri.ExecSyncRequest.fromPartial({
            containerId: id,
            cmd: ['sh', '-c', `stat -c '%F %t:%T' ${device.containerPath}/tun; cat ${device.containerPath}/tun`],
            timeout: 10n,
          }),
        );
        return { out: r.stdout.toString(), err: r.stderr.toString() };
      };
      const rwm = await run('rwm', { hostPath: '/dev/net', containerPath: '/dev/hostnet', permissions: 'rwm' });
      expect(rwm.out).toBe('character special file a:c8\n');
      expect(rwm.err).toMatch(/bad state/);
      const m = await run('m', { hostPath: '/dev/net', containerPath: '/dev/mknod-only', permissions: 'm' });
      expect(m.out).toBe('character special file a:c8\n');
      expect(m.err).toMatch(/Operation not permitted/);
      // a missing host device is refused at create
      const missing = await code(
        h.runContainer(pod, 'missing', 'true', { devices: [{ hostPath: '/dev/no-such-node', containerPath: '/dev/x', permissions: 'rwm' }] }),
      );
      expect(missing).toMatchObject({ code: 3, details: expect.stringMatching(/failed to add device "\/dev\/no-such-node": no such file or directory/) });
    } finally {
      await h.removePod(pod.id);
    }
  });

  test('output goes to the pod log directory in the CRI format, and ReopenContainerLog starts a new file', async () => {
    const pod = await h.runPod('logs');
    try {
      const id = await h.runContainer(pod, 'writer', 'echo first; echo oops >&2; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo second; sleep 1000');
      const file = join(pod.config.logDirectory, 'writer.log');
      const lines = await waitFor('two log lines', () => {
        const l = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
        return l.length >= 2 ? l : undefined;
      });
      const re = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z) (stdout|stderr) ([PF]) (.*)$/;
      expect(lines.map((l) => re.exec(l)?.slice(3))).toEqual(
        expect.arrayContaining([
          ['stdout', 'F', 'first'],
          ['stderr', 'F', 'oops'],
        ]),
      );
      spawnSync('mv', [file, `${file}.1`]);
      await h.call(h.runtime, h.runtime.reopenContainerLog, { containerId: id });
      await h.call(h.runtime, h.runtime.execSync, cri.ExecSyncRequest.fromPartial({ containerId: id, cmd: ['touch', '/tmp/go'], timeout: 5n }));
      const next = await waitFor('the line in the new file', () => existsSync(file) && readFileSync(file, 'utf8').includes(' stdout F second'));
      expect(next).toBe(true);
    } finally {
      await h.removePod(pod.id);
    }
  });

  test('container and pod stats are not zero for a running container', async () => {
    const pod = await h.runPod('stats');
    try {
      const id = await h.runContainer(pod, 'busy', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 1000');
      const s = await waitFor('cpu usage', async () => {
        const r = await h.call(h.runtime, h.runtime.containerStats, { containerId: id });
        return (r.stats?.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n ? r.stats : undefined;
      });
      expect(s.memory?.workingSetBytes?.value).toBeGreaterThan(0n);
      const list = await h.call(h.runtime, h.runtime.listContainerStats, cri.ListContainerStatsRequest.fromPartial({ filter: { podSandboxId: pod.id } }));
      expect(list.stats.map((x) => x.attributes?.id)).toEqual([id]);
      const p = await h.call(h.runtime, h.runtime.podSandboxStats, { podSandboxId: pod.id });
      expect(p.stats?.linux?.cpu?.usageCoreNanoSeconds?.value).toBeGreaterThan(0n);
      expect(p.stats?.linux?.containers.map((c) => c.attributes?.id)).toEqual([id]);
    } finally {
      await h.removePod(pod.id);
    }
  });

  test('bad input answers the right codes', async () => {
    const missing = 'f'.repeat(64);
    expect(await code(h.call(h.runtime, h.runtime.podSandboxStatus, cri.PodSandboxStatusRequest.fromPartial({ podSandboxId: missing })))).toMatchObject({
      code: 5,
    });
    expect(await code(h.call(h.runtime, h.runtime.containerStatus, cri.ContainerStatusRequest.fromPartial({ containerId: missing })))).toMatchObject({
      code: 5,
    });
    expect(await code(h.call(h.runtime, h.runtime.startContainer, { containerId: missing }))).toMatchObject({ code: 5 });
    const inMissingPod = await code(
      h.call(
        h.runtime,
        h.runtime.createContainer,
        cri.CreateContainerRequest.fromPartial({ podSandboxId: missing, config: { metadata: { name: 'x' }, image: { image: BUSYBOX } } }),
      ),
    );
    expect(inMissingPod).toEqual({ code: 5, details: `sandbox "${missing}" not found` });
    const noName = await code(h.call(h.runtime, h.runtime.runPodSandbox, cri.RunPodSandboxRequest.fromPartial({ config: {} })));
    expect(noName).toEqual({ code: 3, details: 'sandbox config must include metadata with a name' });
    const pod = await h.runPod('bad');
    try {
      const noImage = await code(
        h.call(
          h.runtime,
          h.runtime.createContainer,
          cri.CreateContainerRequest.fromPartial({ podSandboxId: pod.id, config: { metadata: { name: 'x' }, image: { image: 'nosuch/image:1' } } }),
        ),
      );
      expect(noImage.code).toBe(5);
      expect(noImage.details).toContain('nosuch/image:1');
      const exec = await code(h.call(h.runtime, h.runtime.exec, cri.ExecRequest.fromPartial({ containerId: missing, cmd: ['true'] })));
      expect(exec.code).toBe(5); // NOT_FOUND: the streaming server hands out no URL for a missing container
    } finally {
      await h.removePod(pod.id);
    }
  });

  test('a restarted gantry-containerd keeps its pods and running containers', async () => {
    const pod = await h.runPod('restart');
    try {
      const id = await h.runContainer(pod, 'keeps', 'echo before; sleep 1000');
      const list = async () => ({
        pods: (await h.call(h.runtime, h.runtime.listPodSandbox, cri.ListPodSandboxRequest.fromPartial({}))).items,
        containers: (await h.call(h.runtime, h.runtime.listContainers, cri.ListContainersRequest.fromPartial({}))).containers,
        status: (await h.call(h.runtime, h.runtime.containerStatus, cri.ContainerStatusRequest.fromPartial({ containerId: id }))).status,
      });
      const before = await list();
      await h.restart();
      const after = await list();
      expect(after).toEqual(before);
      expect(after.status?.state).toBe(cri.ContainerState.CONTAINER_RUNNING);
      const r = await h.call(h.runtime, h.runtime.execSync, cri.ExecSyncRequest.fromPartial({ containerId: id, cmd: ['echo', 'after'], timeout: 5n }));
      expect(r.stdout.toString()).toBe('after\n');
      // the exit after the restart is still seen and settled
      await h.call(h.runtime, h.runtime.stopContainer, cri.StopContainerRequest.fromPartial({ containerId: id, timeout: 0n }));
      const st = await h.call(h.runtime, h.runtime.containerStatus, cri.ContainerStatusRequest.fromPartial({ containerId: id }));
      expect(st.status?.state).toBe(cri.ContainerState.CONTAINER_EXITED);
    } finally {
      await h.removePod(pod.id);
    }
  });

  test('after 20 pods are run and removed, no netns, veth, lease, cgroup or mount is left', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const pod = await h.runPod(`many-${i}`);
      await h.runContainer(pod, 'c', 'sleep 1000');
      ids.push(pod.id);
    }
    const during = leftovers(h);
    expect(during.netns.length).toBe(20);
    expect(during.veths.length).toBe(20);
    expect(during.leases.length).toBe(20);
    for (const id of ids) await h.removePod(id);
    expect(leftovers(h)).toEqual({ netns: [], veths: [], leases: [], cgroups: [], mounts: [] });
  });
});
