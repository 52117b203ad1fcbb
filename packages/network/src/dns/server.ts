/**
 * The embedded resolver of a user-defined network: UDP and TCP on one address (gantryd listens on
 * the network's gateway, which containers are pointed at in their resolv.conf). Names of the
 * network's containers (names, aliases, short ids) are answered from `lookup`; anything else is
 * forwarded over UDP to the host's nameservers and their answer relayed.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { buildResponse, formatErrorResponse, parseQuery, RCODE_NOERROR, RCODE_NOTIMP, RCODE_SERVFAIL, TYPE_A, type Query } from './message';

/** IPv4 addresses of a name the network owns, or undefined when it is not one of ours. */
export type Lookup = (name: string) => string[] | undefined;

export interface DnsServerOptions {
  address: string;
  port?: number;
  lookup: Lookup;
  /** Upstream nameservers (IPv4 addresses), tried in order. */
  forwarders: string[];
  /** Per-client upstreams (a container's --dns), by the client's address; the default list when undefined. */
  forwardersFor?: (client: string) => string[] | undefined;
  ttl?: number;
  forwardTimeoutMs?: number;
  /** Port of the upstreams (53; tests use another). */
  upstreamPort?: number;
}

export class DnsServer {
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private readonly tcpConns = new Set<net.Socket>();

  constructor(private readonly opts: DnsServerOptions) {}

  get address(): string {
    return this.opts.address;
  }

  /** The bound port (useful with port 0 in tests). */
  get port(): number {
    return this.udp ? this.udp.address().port : 0;
  }

  async start(): Promise<void> {
    const udp = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.opts.port ?? 53, this.opts.address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', () => undefined);
    udp.on('message', (msg, rinfo) => {
      void this.answer(msg, rinfo.address).then((out) => udp.send(out, rinfo.port, rinfo.address, () => undefined));
    });
    this.udp = udp;
    const tcp = net.createServer((sock) => this.serveTcp(sock));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(this.udp!.address().port, this.opts.address, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      udp.close();
      this.udp = undefined;
      throw e;
    }
    this.tcp = tcp;
  }

  private serveTcp(sock: net.Socket): void {
    this.tcpConns.add(sock);
    sock.setTimeout(10000, () => sock.destroy());
    sock.on('error', () => undefined);
    sock.on('close', () => this.tcpConns.delete(sock));
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        void this.answer(msg, sock.remoteAddress ?? '').then((out) => {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(out.length);
          if (!sock.destroyed) sock.write(Buffer.concat([prefix, out]));
        });
      }
    });
  }

  /** The response to one message (never throws). */
  async answer(msg: Buffer, client = ''): Promise<Buffer> {
    let q: Query;
    try {
      q = parseQuery(msg);
    } catch {
      return formatErrorResponse(msg);
    }
    if (q.opcode !== 0 || q.questions.length !== 1) return buildResponse(q, RCODE_NOTIMP);
    const question = q.questions[0]!;
    const ips = this.opts.lookup(question.name);
    if (ips !== undefined) {
      // a name we own: A records, and an empty NOERROR for other types (no AAAA: IPv4 networks)
      return buildResponse(q, RCODE_NOERROR, { a: question.type === TYPE_A ? ips : [], ttl: this.opts.ttl ?? 600 });
    }
    for (const upstream of this.opts.forwardersFor?.(client) ?? this.opts.forwarders) {
      const reply = await this.forward(msg, upstream).catch(() => undefined);
      if (reply) return reply;
    }
    return buildResponse(q, RCODE_SERVFAIL, undefined, false);
  }

  private forward(msg: Buffer, upstream: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      const done = (err?: Error, reply?: Buffer) => {
        clearTimeout(timer);
        s.close();
        if (reply) resolve(reply);
        else reject(err ?? new Error('no reply'));
      };
      const timer = setTimeout(() => done(new Error(`timeout asking ${upstream}`)), this.opts.forwardTimeoutMs ?? 3000);
      s.on('error', (e) => done(e));
      s.on('message', (reply) => {
        if (reply.length >= 2 && reply.readUInt16BE(0) === msg.readUInt16BE(0)) done(undefined, reply);
      });
      s.send(msg, this.opts.upstreamPort ?? 53, upstream);
    });
  }

  async close(): Promise<void> {
    this.udp?.close();
    this.udp = undefined;
    for (const c of this.tcpConns) c.destroy();
    if (this.tcp) await new Promise<void>((r) => this.tcp!.close(() => r()));
    this.tcp = undefined;
  }
}

/** The IPv4 nameservers of a resolv.conf (gantryd forwards to them from the host's namespace). */
export function upstreamNameservers(resolvConf: string): string[] {
  return resolvConf
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((ip): ip is string => !!ip && /^\d+\.\d+\.\d+\.\d+$/.test(ip));
}
