/**
 * Kubernetes' CRI v1 (runtime.v1.RuntimeService and ImageService) on gantry-containerd's socket,
 * built on the daemon's own services through DaemonClients. Exec, Attach and PortForward answer
 * with one-time URLs on the streaming server (@gantry/cri-streaming), started with the service.
 */
import * as path from 'node:path';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { cri, events as epb } from '@gantry/api';
import { StreamingServer } from '@gantry/cri-streaming';
import { errdefs, type Logger } from '@gantry/linux';
import type { Exchange } from '../events/exchange';
import { unary } from '../rpc';
import { CRI_NAMESPACE, DaemonClients } from './clients';
import type { CriConfig } from './config';
import { Containers } from './containers';
import type { CriContext } from './context';
import { ContainerEvents } from './events';
import { execSync } from './exec-sync';
import { CriImageService, ImageResolver } from './image-service';
import { PodNetwork } from './pod-network';
import { PodSandboxes } from './pod-sandboxes';
import { CriStreamingRuntime } from './streaming-runtime';
import { containerStatsOne, listContainerStats, listPodSandboxStats, podSandboxStatsOne } from './stats';
import { CriStore, type SandboxRecord } from './store';
import type { RecordStore } from '@gantry/linux';

const CRI_RUNTIME_NAME = 'gantry';
const CRI_RUNTIME_VERSION = '0.1.0';

export interface CriOptions {
  log: Logger;
  /** The daemon's socket: the CRI service calls the daemon's own services through it. */
  address: string;
  root: string;
  state: string;
  store: RecordStore;
  exchange: Exchange;
  config: CriConfig;
}

export interface CriService {
  runtime: cri.RuntimeServiceServer;
  image: cri.ImageServiceServer;
  /** After the socket is bound: settle containers that exited while the daemon was down, follow exits. */
  start(): Promise<void>;
  close(): void;
}

export function criService(o: CriOptions): CriService {
  const log = o.log.with({ service: 'cri' });
  const cd = new DaemonClients(o.address);
  const c: CriContext = {
    log,
    cd,
    store: new CriStore(o.store),
    images: new ImageResolver(cd),
    network: new PodNetwork(o.config.cniConfDir, o.config.cniBinDirs),
    config: o.config,
    stateDir: o.config.stateDir ?? path.join(o.state, 'cri'),
    events: new ContainerEvents(),
  };
  const pods = new PodSandboxes(c);
  const ctrs = new Containers(c);
  const streaming = new StreamingServer({
    runtime: new CriStreamingRuntime(c, ctrs),
    address: o.config.streamingAddress,
    log: log.with({ component: 'cri-streaming' }),
  });
  const images = new CriImageService({ cd, resolver: c.images, log, mirrors: o.config.mirrors, root: o.root });
  const sandboxStatus = (s: SandboxRecord) => pods.status(s, false).status!;
  let unsubscribe: (() => void) | undefined;
  const u = <Req, Res>(name: string, fn: (req: Req) => Res | Promise<Res>) => unary<Req, Res>(log, `runtime.v1.${name}`, (req) => fn(req));
  const unimplemented = (what: string) => () => {
    throw errdefs.unimplemented(what);
  };

  const running = (id: string) => {
    const rec = c.store.container(id);
    if (rec.state !== 'running') throw errdefs.failedPrecondition(`container ${rec.id} is not running`);
  };

  const stopPod = async (id: string) => {
    const rec = c.store.sandbox(id);
    for (const ct of c.store.listContainers().filter((x) => x.sandboxId === rec.id)) await ctrs.stop(ct.id, 0);
    await pods.stopNetwork(rec);
    rec.state = 'notready';
    c.store.saveSandbox(rec);
  };

  const runtime: cri.RuntimeServiceServer = {
    version: u('Version', () => ({ version: '0.1.0', runtimeName: CRI_RUNTIME_NAME, runtimeVersion: CRI_RUNTIME_VERSION, runtimeApiVersion: 'v1' })),
    runPodSandbox: u('RunPodSandbox', (r: cri.RunPodSandboxRequest) => pods.run(r)),
    stopPodSandbox: u('StopPodSandbox', async (r: cri.StopPodSandboxRequest) => (await stopPod(r.podSandboxId), {})),
    removePodSandbox: u('RemovePodSandbox', async (r: cri.RemovePodSandboxRequest) => {
      let rec: SandboxRecord;
      try {
        rec = c.store.sandbox(r.podSandboxId);
      } catch (e) {
        if (errdefs.isNotFound(e)) return {}; // already removed: success, as kubelet expects
        throw e;
      }
      if (rec.state === 'ready' || rec.netnsPath) await stopPod(rec.id);
      for (const ct of c.store.listContainers().filter((x) => x.sandboxId === rec.id)) await ctrs.remove(ct.id);
      pods.remove(rec);
      return {};
    }),
    podSandboxStatus: u('PodSandboxStatus', (r: cri.PodSandboxStatusRequest) => {
      const res = pods.status(c.store.sandbox(r.podSandboxId), r.verbose);
      return {
        ...res,
        containersStatuses: c.store
          .listContainers()
          .filter((x) => x.sandboxId === res.status!.id)
          .map((x) => ctrs.statusOf(x)),
      };
    }),
    listPodSandbox: u('ListPodSandbox', (r: cri.ListPodSandboxRequest) => ({ items: pods.list(r.filter) })),
    createContainer: u('CreateContainer', (r: cri.CreateContainerRequest) => ctrs.create(r, sandboxStatus)),
    startContainer: u('StartContainer', async (r: cri.StartContainerRequest) => (await ctrs.start(r.containerId), {})),
    stopContainer: u('StopContainer', async (r: cri.StopContainerRequest) => (await ctrs.stop(r.containerId, Number(r.timeout)), {})),
    removeContainer: u('RemoveContainer', async (r: cri.RemoveContainerRequest) => (await ctrs.remove(r.containerId), {})),
    listContainers: u('ListContainers', (r: cri.ListContainersRequest) => ({ containers: ctrs.list(r.filter) })),
    containerStatus: u('ContainerStatus', (r: cri.ContainerStatusRequest) => ctrs.status(r.containerId, r.verbose)),
    updateContainerResources: u('UpdateContainerResources', async (r: cri.UpdateContainerResourcesRequest) => (await ctrs.updateResources(r), {})),
    reopenContainerLog: u('ReopenContainerLog', (r: cri.ReopenContainerLogRequest) => (ctrs.reopenLog(r.containerId), {})),
    execSync: u('ExecSync', (r: cri.ExecSyncRequest) => execSync(c, r)),
    exec: u('Exec', (r: cri.ExecRequest) => (running(r.containerId), streaming.getExec(r))),
    attach: u('Attach', (r: cri.AttachRequest) => (running(r.containerId), streaming.getAttach(r))),
    portForward: u('PortForward', (r: cri.PortForwardRequest) => (c.store.sandbox(r.podSandboxId), streaming.getPortForward(r))),
    containerStats: u('ContainerStats', async (r: cri.ContainerStatsRequest) => ({ stats: await containerStatsOne(c, r.containerId) })),
    listContainerStats: u('ListContainerStats', async (r: cri.ListContainerStatsRequest) => ({ stats: await listContainerStats(c, r.filter) })),
    podSandboxStats: u('PodSandboxStats', async (r: cri.PodSandboxStatsRequest) => ({ stats: await podSandboxStatsOne(c, r.podSandboxId) })),
    listPodSandboxStats: u('ListPodSandboxStats', async (r: cri.ListPodSandboxStatsRequest) => ({ stats: await listPodSandboxStats(c, r.filter) })),
    // the pod CIDR kubelet sends is for a CNI config template; pods' networks come from the CNI
    // config directory as it is (containerd does the same when it has no template)
    updateRuntimeConfig: u('UpdateRuntimeConfig', () => ({})),
    status: u('Status', (r: cri.StatusRequest): cri.StatusResponse => {
      const netReady = c.network.ready();
      return {
        status: {
          conditions: [
            { type: 'RuntimeReady', status: true, reason: '', message: '' },
            {
              type: 'NetworkReady',
              status: netReady,
              reason: netReady ? '' : 'NetworkPluginNotReady',
              message: netReady ? '' : `Network plugin returns error: cni config load failed: no network config found in ${o.config.cniConfDir}`,
            },
          ],
        },
        info: r.verbose ? { config: JSON.stringify(o.config) } : ({} as Record<string, string>),
      };
    }),
    checkpointContainer: u('CheckpointContainer', unimplemented('CheckpointContainer is not supported')),
    getContainerEvents: (call: ServerWritableStream<cri.GetEventsRequest, cri.ContainerEventResponse>) => {
      const off = c.events.subscribe((e) => call.write(e));
      call.on('cancelled', off);
      call.on('close', off);
      call.on('error', off);
    },
    listMetricDescriptors: u('ListMetricDescriptors', unimplemented('ListMetricDescriptors is not supported')),
    listPodSandboxMetrics: u('ListPodSandboxMetrics', unimplemented('ListPodSandboxMetrics is not supported')),
    runtimeConfig: u('RuntimeConfig', () => ({ linux: { cgroupDriver: cri.CgroupDriver.CGROUPFS } })),
  };

  const iu = <Req, Res>(name: string, fn: (req: Req) => Res | Promise<Res>) => unary<Req, Res>(log, `runtime.v1.ImageService.${name}`, (req) => fn(req));
  const image: cri.ImageServiceServer = {
    listImages: iu('ListImages', (r: cri.ListImagesRequest) => images.listImages(r)),
    imageStatus: iu('ImageStatus', (r: cri.ImageStatusRequest) => images.imageStatus(r)),
    pullImage: iu('PullImage', (r: cri.PullImageRequest) => images.pullImage(r)),
    removeImage: iu('RemoveImage', (r: cri.RemoveImageRequest) => images.removeImage(r)),
    imageFsInfo: iu('ImageFsInfo', () => images.imageFsInfo()),
  };

  return {
    runtime,
    image,
    async start() {
      unsubscribe = o.exchange.subscribe([`topic=="/tasks/exit",namespace==${JSON.stringify(CRI_NAMESPACE)}`], (e) => {
        const exit = epb.TaskExit.decode(e.event.value);
        void ctrs
          .onExit(exit)
          .catch((err: unknown) => log.error('settling a container exit failed', { container: exit.containerId, error: (err as Error).message }));
      });
      await ctrs.recover();
      await streaming.start();
      log.info('CRI streaming server listening', { url: streaming.url });
    },
    close() {
      unsubscribe?.();
      void streaming.stop();
      ctrs.close();
      cd.close();
    },
  };
}
