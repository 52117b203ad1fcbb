/**
 * Published ports: Docker's PortBindings turned into portmap's portMappings, with host ports
 * reserved by holding a socket on them (as docker-proxy does), so a port in use by anything on
 * the host — or by another container — is refused with Docker's "port is already allocated".
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { invalid, PortAllocatedError } from './errors';

export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

/** One published port; hostPort 0 until a free one is chosen. */
export interface PortRequest {
  containerPort: number;
  protocol: Protocol;
  hostIP: string;
  /** Inclusive range of acceptable host ports; [0, 0] for any. */
  hostPorts: [number, number];
}

/** portmap's runtimeConfig.portMappings entry. */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
  hostIP: string;
}

/** "80/tcp" → [80, 'tcp']. */
export function parsePortKey(key: string): [number, Protocol] {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw invalid(`invalid port specification: "${key}"`);
  return [Number(m[1]), (m[2] ?? 'tcp') as Protocol];
}

function parseHostPorts(s: string | undefined, key: string): [number, number] {
  if (!s) return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const lo = Number(m?.[1]);
  const hi = m?.[2] ? Number(m[2]) : lo;
  if (!m || lo < 0 || hi > 65535 || hi < lo) throw invalid(`invalid hostPort: ${s} for ${key}`);
  return [lo, hi];
}

/** The ports to publish: PortBindings, and with PublishAllPorts every exposed port not bound (random host port). */
export function portRequests(
  bindings: Record<string, PortBinding[] | null> | undefined,
  exposed: Record<string, unknown> | undefined,
  publishAll: boolean,
): PortRequest[] {
  const out: PortRequest[] = [];
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const [containerPort, protocol] = parsePortKey(key);
    for (const b of list ?? [{}]) {
      const hostIP = b.HostIp || '0.0.0.0';
      if (!net.isIPv4(hostIP)) throw invalid(`invalid host IP ${hostIP}: only IPv4 is supported`);
      out.push({ containerPort, protocol, hostIP, hostPorts: parseHostPorts(b.HostPort, key) });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      if (bindings?.[key]?.length) continue;
      const [containerPort, protocol] = parsePortKey(key);
      out.push({ containerPort, protocol, hostIP: '0.0.0.0', hostPorts: [0, 0] });
    }
  }
  return out;
}

interface Held {
  key: string;
  close(): void;
}

/** Bind `ip:port/proto` (port 0: the kernel picks) and keep it; resolves to the bound port. */
function hold(ip: string, port: number, proto: Protocol): Promise<{ port: number; close(): void }> {
  return new Promise((resolve, reject) => {
    if (proto === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(port, ip, () => {
        s.removeAllListeners('error');
        s.on('error', () => undefined);
        s.on('message', () => undefined);
        resolve({ port: s.address().port, close: () => s.close() });
      });
      return;
    }
    // tcp (and sctp, held as tcp): traffic is DNATed before it reaches this socket; drop any that does
    const srv = net.createServer((c) => c.destroy());
    srv.once('error', reject);
    srv.listen({ port, host: ip, exclusive: true }, () => {
      srv.removeAllListeners('error');
      srv.on('error', () => undefined);
      resolve({ port: (srv.address() as net.AddressInfo).port, close: () => srv.close() });
    });
  });
}

/** Host ports held for running containers, by owner. */
export class PortReservations {
  private readonly byOwner = new Map<string, Held[]>();

  /** Reserve every request for `owner`; all or nothing. Throws Docker's error when a fixed port is taken. */
  async reserve(owner: string, reqs: PortRequest[]): Promise<PortMapping[]> {
    const held: Held[] = [];
    const out: PortMapping[] = [];
    try {
      for (const r of reqs) {
        const [lo, hi] = r.hostPorts;
        let got: { port: number; close(): void } | undefined;
        for (let p = lo; p <= hi && !got; p++) {
          got = await hold(r.hostIP, p, r.protocol).catch(() => undefined);
        }
        if (!got) throw new PortAllocatedError(r.hostIP, lo);
        held.push({ key: `${r.hostIP}:${got.port}/${r.protocol}`, close: got.close });
        out.push({ hostPort: got.port, containerPort: r.containerPort, protocol: r.protocol, hostIP: r.hostIP });
      }
    } catch (e) {
      for (const h of held) h.close();
      throw e;
    }
    this.byOwner.set(owner, [...(this.byOwner.get(owner) ?? []), ...held]);
    return out;
  }

  release(owner: string): void {
    for (const h of this.byOwner.get(owner) ?? []) h.close();
    this.byOwner.delete(owner);
  }

  releaseAll(): void {
    for (const o of [...this.byOwner.keys()]) this.release(o);
  }
}
