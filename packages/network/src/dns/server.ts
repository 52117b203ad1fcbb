/**
 * The embedded resolver of a user-defined network: UDP and TCP on one address (gantryd listens on
 * the network's gateway, which containers are pointed at in their resolv.conf). Names of the
 * network's containers (names, aliases, short ids) are answered from `lookup`; anything else is
 * forwarded over UDP to the host's nameservers and their answer relayed.
 *
 * The gateway is a host address, reachable from more than the network's own containers (another
 * network's containers through the host, a neighbour routing to it), so the server:
 *  - answers only clients `allowClient` admits (gantryd: the addresses of the network's endpoints);
 *    others are dropped without an answer, so a spoofed source cannot make us reflect traffic;
 *  - holds at most `maxConcurrent` forwards in flight (moby's resolver: 1024); a query over the
 *    limit is answered REFUSED at once, as moby answers when no slot frees up;
 *  - forwards from a fresh socket per query (a kernel-chosen ephemeral port), connected to the
 *    upstream, with a random query id, and takes a reply only from that server's address and port,
 *    with that id, the QR bit and the same question (RFC 5452's checks against cache poisoning).
 */
import { randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { cidrContains, isIPv4, parseCidr, parseIPv4 } from '../ip';
import {
  buildResponse,
  formatErrorResponse,
  parseQuery,
  rcodeOf,
  RCODE_NOERROR,
  RCODE_NOTIMP,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
  TYPE_A,
  type Query,
  type Question,
} from './message';

/** IPv4 addresses of a name the network owns, or undefined when it is not one of ours. */
/** The addresses of a name the network owns, as seen by `client` (a container's legacy links are its own). */
export type Lookup = (name: string, client: string) => string[] | undefined;

export interface Peer {
  address: string;
  port: number;
}

/** One forward's socket to an upstream (a fake in unit tests). */
export interface UpstreamSocket {
  send(msg: Buffer): void;
  close(): void;
}

/** Open a socket to `to`; every datagram that arrives on it goes to `onMessage` with its sender. */
export type ConnectUpstream = (to: Peer, onMessage: (msg: Buffer, from: Peer) => void, onError: (e: Error) => void) => UpstreamSocket;

/** moby libnetwork/resolver.go: maxConcurrent, extIOTimeout, maxExtDNS. */
export const DEFAULT_MAX_CONCURRENT = 1024;
const DEFAULT_FORWARD_TIMEOUT_MS = 4000;
const MAX_UPSTREAMS = 3;

export interface DnsServerOptions {
  address: string;
  port?: number;
  lookup: Lookup;
  /** Whether a query from this source address is answered (anything else is dropped unanswered). */
  allowClient: (address: string) => boolean;
  /** Upstream nameservers (IPv4 addresses), tried in order (the first MAX_UPSTREAMS). */
  forwarders: string[];
  /** Per-client upstreams (a container's --dns), by the client's address; the default list when undefined. */
  forwardersFor?: (client: string) => string[] | undefined;
  ttl?: number;
  forwardTimeoutMs?: number;
  /** Port of the upstreams (53; tests use another). */
  upstreamPort?: number;
  /** Forwards in flight at most; more are answered REFUSED. */
  maxConcurrent?: number;
  /** The socket of one forward (default: a connected UDP socket on an ephemeral port). */
  connectUpstream?: ConnectUpstream;
  /** The id of a forwarded query (default: crypto-random). */
  randomId?: () => number;
}

/** What the server turned away, for tests and logs. */
export interface DnsServerStats {
  /** Queries (UDP datagrams, TCP connections) from clients allowClient refused. */
  refusedClients: number;
  /** Queries answered REFUSED because maxConcurrent forwards were in flight. */
  overLimit: number;
  /** Upstream datagrams ignored: wrong sender, id, question, or not a response. */
  rejectedReplies: number;
}

/** A connected UDP socket: the kernel picks a random ephemeral port and drops datagrams from anyone but `to`. */
export const udpUpstream: ConnectUpstream = (to, onMessage, onError) => {
  const s = dgram.createSocket('udp4');
  let closed = false;
  let pending: Buffer | undefined;
  let connected = false;
  s.on('error', (e) => onError(e));
  s.on('message', (msg, rinfo) => onMessage(msg, { address: rinfo.address, port: rinfo.port }));
  s.connect(to.port, to.address, () => {
    connected = true;
    if (pending && !closed) s.send(pending);
    pending = undefined;
  });
  return {
    send(msg) {
      if (connected) s.send(msg);
      else pending = msg;
    },
    close() {
      if (closed) return;
      closed = true;
      s.close();
    },
  };
};

/** Whether `reply` from `from` answers the query sent to `to` with id `id` and question `q`. */
export function isReplyTo(reply: Buffer, from: Peer, to: Peer, id: number, q: Question): boolean {
  if (from.address !== to.address || from.port !== to.port) return false;
  if (reply.length < 12 || reply.readUInt16BE(0) !== id || (reply.readUInt16BE(2) & 0x8000) === 0) return false;
  let back: Query;
  try {
    back = parseQuery(reply);
  } catch {
    return false;
  }
  const r = back.questions[0];
  return back.questions.length === 1 && r!.name === q.name && r!.type === q.type && r!.class === q.class;
}

export class DnsServer {
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private readonly tcpConns = new Set<net.Socket>();
  private inFlight = 0;
  readonly stats: DnsServerStats = { refusedClients: 0, overLimit: 0, rejectedReplies: 0 };

  constructor(private readonly opts: DnsServerOptions) {}

  get address(): string {
    return this.opts.address;
  }

  /** The bound port (useful with port 0 in tests). */
  get port(): number {
    return this.udp ? this.udp.address().port : 0;
  }

  async start(): Promise<void> {
    // with port 0 the kernel picks a free UDP port, which a TCP socket of anyone may hold: pick again
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.bindBoth();
      } catch (e) {
        if (this.opts.port !== 0 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw e;
      }
    }
  }

  /** UDP and TCP on one port number. */
  private async bindBoth(): Promise<void> {
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
      if (!this.admits(rinfo.address)) return;
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

  private admits(address: string): boolean {
    let ok: boolean;
    try {
      ok = this.opts.allowClient(address);
    } catch {
      ok = false;
    }
    if (!ok) this.stats.refusedClients++;
    return ok;
  }

  private serveTcp(sock: net.Socket): void {
    if (!this.admits(sock.remoteAddress ?? '')) {
      sock.destroy();
      return;
    }
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

  /** The response to one message from an admitted client (never throws). */
  async answer(msg: Buffer, client = ''): Promise<Buffer> {
    let q: Query;
    try {
      q = parseQuery(msg);
    } catch {
      return formatErrorResponse(msg);
    }
    if (q.opcode !== 0 || q.questions.length !== 1) return buildResponse(q, RCODE_NOTIMP);
    const question = q.questions[0]!;
    const ips = this.opts.lookup(question.name, client);
    if (ips !== undefined) {
      // a name we own: A records, and an empty NOERROR for other types (no AAAA: IPv4 networks)
      return buildResponse(q, RCODE_NOERROR, { a: question.type === TYPE_A ? ips : [], ttl: this.opts.ttl ?? 600 });
    }
    const upstreams = (this.opts.forwardersFor?.(client) ?? this.opts.forwarders).slice(0, MAX_UPSTREAMS);
    if (!upstreams.length) return buildResponse(q, RCODE_SERVFAIL, undefined, false);
    if (this.inFlight >= (this.opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT)) {
      this.stats.overLimit++;
      return buildResponse(q, RCODE_REFUSED, undefined, false);
    }
    this.inFlight++;
    try {
      for (const upstream of upstreams) {
        const reply = await this.forward(q, msg, upstream).catch(() => undefined);
        // SERVFAIL and REFUSED may be one server's trouble: try the next (as moby does)
        if (reply && rcodeOf(reply) !== RCODE_SERVFAIL && rcodeOf(reply) !== RCODE_REFUSED) return reply;
      }
    } finally {
      this.inFlight--;
    }
    return buildResponse(q, RCODE_SERVFAIL, undefined, false);
  }

  /** Forwards in flight now. */
  get forwarding(): number {
    return this.inFlight;
  }

  private forward(q: Query, msg: Buffer, upstream: string): Promise<Buffer> {
    const to: Peer = { address: upstream, port: this.opts.upstreamPort ?? 53 };
    const id = (this.opts.randomId ?? (() => randomInt(0, 0x10000)))();
    const out = Buffer.from(msg);
    out.writeUInt16BE(id, 0);
    return new Promise((resolve, reject) => {
      let sock: UpstreamSocket | undefined;
      let settled = false;
      const done = (err?: Error, reply?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock?.close();
        if (reply) resolve(reply);
        else reject(err ?? new Error('no reply'));
      };
      const timer = setTimeout(() => done(new Error(`timeout asking ${upstream}`)), this.opts.forwardTimeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS);
      const onMessage = (reply: Buffer, from: Peer) => {
        if (!isReplyTo(reply, from, to, id, q.questions[0]!)) {
          // keep waiting: a forged datagram must not end the real exchange
          this.stats.rejectedReplies++;
          return;
        }
        const back = Buffer.from(reply);
        back.writeUInt16BE(q.id, 0);
        done(undefined, back);
      };
      try {
        sock = (this.opts.connectUpstream ?? udpUpstream)(to, onMessage, (e) => done(e));
        if (settled) sock.close();
        else sock.send(out);
      } catch (e) {
        done(e instanceof Error ? e : new Error(String(e)));
      }
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

/**
 * The upstreams a network's resolver may forward to. The resolver forwards from the host's
 * namespace, so for an internal network it would be a way out (names and data leaving by DNS):
 * there only upstreams inside the network's own subnet are kept (moby likewise does not proxy an
 * internal network's queries from the host).
 */
export function allowedUpstreams(servers: string[], internal: boolean, subnet: string): string[] {
  if (!internal) return servers;
  const own = parseCidr(subnet);
  return servers.filter((ip) => isIPv4(ip) && cidrContains(own, parseIPv4(ip)));
}

/** The IPv4 nameservers of a resolv.conf (gantryd forwards to them from the host's namespace). */
export function upstreamNameservers(resolvConf: string): string[] {
  return resolvConf
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((ip): ip is string => !!ip && /^\d+\.\d+\.\d+\.\d+$/.test(ip));
}
