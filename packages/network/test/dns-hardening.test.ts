/**
 * The resolver's defences: who it answers, how many forwards it holds, and which upstream replies
 * it believes. Unit tests drive DnsServer.answer with a fake upstream socket (every datagram
 * injected by the test); integration tests use real UDP/TCP sockets on loopback only.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { buildResponse, encodeName, parseQuery, RCODE_NOERROR, RCODE_REFUSED, RCODE_SERVFAIL, rcodeOf, TYPE_A, TYPE_AAAA } from '../src/dns/message';
import { allowedUpstreams, DnsServer, isReplyTo, type ConnectUpstream, type Peer } from '../src/dns/server';

function query(id: number, name: string, type = TYPE_A): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2);
  h.writeUInt16BE(1, 4);
  const t = Buffer.alloc(4);
  t.writeUInt16BE(type, 0);
  t.writeUInt16BE(1, 2);
  return Buffer.concat([h, encodeName(name), t]);
}

/** An upstream answer to `msg` (its id and question) with one A record. */
function answerTo(msg: Buffer, ip: string, rcode = RCODE_NOERROR): Buffer {
  return buildResponse(parseQuery(msg), rcode, { a: [ip], ttl: 60 }, false);
}

const lastA = (m: Buffer) => [...m.subarray(m.length - 4)].join('.');

/** A fake upstream: records each forward's socket; the test delivers datagrams to it. */
class FakeUpstreams {
  readonly sockets: { to: Peer; sent: Buffer[]; deliver: (msg: Buffer, from: Peer) => void; closed: boolean; fail: (e: Error) => void }[] = [];
  private waiters: (() => void)[] = [];
  readonly connect: ConnectUpstream = (to, onMessage, onError) => {
    const rec = { to, sent: [] as Buffer[], deliver: onMessage, closed: false, fail: onError };
    this.sockets.push(rec);
    return {
      send: (msg) => {
        rec.sent.push(msg);
        this.waiters.splice(0).forEach((w) => w());
      },
      close: () => {
        rec.closed = true;
      },
    };
  };
  /** Resolves when `n` forwards have been sent. */
  async sent(n: number): Promise<void> {
    while (this.sockets.filter((s) => s.sent.length).length < n) await new Promise<void>((r) => this.waiters.push(r));
  }
}

describe('DnsServer forwarding (fake upstream socket)', () => {
  const mk = (fake: FakeUpstreams, extra: Partial<ConstructorParameters<typeof DnsServer>[0]> = {}) =>
    new DnsServer({
      address: '127.0.0.1',
      lookup: () => undefined,
      allowClient: () => true,
      forwarders: ['192.0.2.53'],
      connectUpstream: fake.connect,
      ...extra,
    });

  it('sends a random id to the upstream and accepts only its reply with that id and question', async () => {
    const fake = new FakeUpstreams();
    const server = mk(fake, { randomId: () => 0xbeef });
    const pending = server.answer(query(0x0101, 'example.org'));
    await fake.sent(1);
    const s = fake.sockets[0]!;
    expect(s.to).toEqual({ address: '192.0.2.53', port: 53 });
    const fwd = s.sent[0]!;
    expect(fwd.readUInt16BE(0)).toBe(0xbeef); // not the client's id
    const good = answerTo(fwd, '203.0.113.7');
    const forged = answerTo(fwd, '6.6.6.6');
    s.deliver(forged, { address: '192.0.2.66', port: 53 }); // another host
    s.deliver(forged, { address: '192.0.2.53', port: 5353 }); // the server's address, another port
    const wrongId = Buffer.from(forged);
    wrongId.writeUInt16BE(0xbeee, 0);
    s.deliver(wrongId, { address: '192.0.2.53', port: 53 });
    const notResponse = Buffer.from(forged);
    notResponse.writeUInt16BE(notResponse.readUInt16BE(2) & 0x7fff, 2);
    s.deliver(notResponse, { address: '192.0.2.53', port: 53 });
    s.deliver(answerTo(query(0xbeef, 'other.example'), '6.6.6.6'), { address: '192.0.2.53', port: 53 }); // another question
    s.deliver(answerTo(query(0xbeef, 'example.org', TYPE_AAAA), '6.6.6.6'), { address: '192.0.2.53', port: 53 });
    s.deliver(Buffer.from([0xbe, 0xef, 0x80]), { address: '192.0.2.53', port: 53 }); // garbage
    expect(server.stats.rejectedReplies).toBe(7);
    s.deliver(good, { address: '192.0.2.53', port: 53 });
    const reply = await pending;
    expect(reply.readUInt16BE(0)).toBe(0x0101); // the client's id restored
    expect(lastA(reply)).toBe('203.0.113.7');
    expect(s.closed).toBe(true);
  });

  it('uses a new socket and a new id for every forward', async () => {
    const fake = new FakeUpstreams();
    let n = 100;
    const server = mk(fake, { randomId: () => n++ });
    const a = server.answer(query(1, 'a.example'));
    const b = server.answer(query(1, 'b.example'));
    await fake.sent(2);
    expect(fake.sockets.map((s) => s.sent[0]!.readUInt16BE(0))).toEqual([100, 101]);
    for (const s of fake.sockets) s.deliver(answerTo(s.sent[0]!, '203.0.113.1'), s.to);
    expect((await a).readUInt16BE(0)).toBe(1);
    expect((await b).readUInt16BE(0)).toBe(1);
  });

  it('holds at most maxConcurrent forwards; the next query is REFUSED at once, and a freed slot is used again', async () => {
    const fake = new FakeUpstreams();
    const server = mk(fake, { maxConcurrent: 2 });
    const first = server.answer(query(1, 'one.example'));
    const second = server.answer(query(2, 'two.example'));
    await fake.sent(2);
    expect(server.forwarding).toBe(2);
    const third = await server.answer(query(3, 'three.example'));
    expect(rcodeOf(third)).toBe(RCODE_REFUSED);
    expect(third.readUInt16BE(0)).toBe(3);
    expect(server.stats.overLimit).toBe(1);
    expect(fake.sockets).toHaveLength(2); // nothing was sent for the third
    // names the network owns never need a slot
    const owned = new DnsServer({ address: '127.0.0.1', lookup: () => ['10.0.0.2'], allowClient: () => true, forwarders: [], maxConcurrent: 0 });
    expect(rcodeOf(await owned.answer(query(4, 'web')))).toBe(RCODE_NOERROR);
    fake.sockets[0]!.deliver(answerTo(fake.sockets[0]!.sent[0]!, '203.0.113.1'), fake.sockets[0]!.to);
    expect(rcodeOf(await first)).toBe(RCODE_NOERROR);
    expect(server.forwarding).toBe(1);
    const fourth = server.answer(query(5, 'four.example'));
    await fake.sent(3);
    for (const s of fake.sockets.slice(1)) s.deliver(answerTo(s.sent[0]!, '203.0.113.2'), s.to);
    expect(rcodeOf(await second)).toBe(RCODE_NOERROR);
    expect(rcodeOf(await fourth)).toBe(RCODE_NOERROR);
    expect(server.forwarding).toBe(0);
  });

  it('moves to the next upstream on SERVFAIL or a socket error, asks at most three, then answers SERVFAIL', async () => {
    const fake = new FakeUpstreams();
    const server = mk(fake, { forwarders: ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'] });
    const pending = server.answer(query(9, 'x.example'));
    await fake.sent(1);
    fake.sockets[0]!.deliver(answerTo(fake.sockets[0]!.sent[0]!, '0.0.0.0', RCODE_SERVFAIL), fake.sockets[0]!.to);
    await fake.sent(2);
    fake.sockets[1]!.fail(new Error('ECONNREFUSED'));
    await fake.sent(3);
    fake.sockets[2]!.deliver(answerTo(fake.sockets[2]!.sent[0]!, '0.0.0.0', RCODE_REFUSED), fake.sockets[2]!.to);
    const reply = await pending;
    expect(rcodeOf(reply)).toBe(RCODE_SERVFAIL);
    expect(fake.sockets.map((s) => s.to.address)).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    expect(server.forwarding).toBe(0);
  });

  it('isReplyTo checks sender, id, QR and question', () => {
    const q = parseQuery(query(7, 'a.example'));
    const r = answerTo(query(7, 'A.Example'), '1.2.3.4');
    const to = { address: '10.0.0.1', port: 53 };
    expect(isReplyTo(r, to, to, 7, q.questions[0]!)).toBe(true); // names compare case-insensitively
    expect(isReplyTo(r, { ...to, port: 54 }, to, 7, q.questions[0]!)).toBe(false);
    expect(isReplyTo(r, to, to, 8, q.questions[0]!)).toBe(false);
    expect(isReplyTo(query(7, 'a.example'), to, to, 7, q.questions[0]!)).toBe(false);
  });
});

describe('upstreams of an internal network', () => {
  it('keeps only servers inside the subnet: the resolver forwards from the host and must not be the way out', () => {
    const servers = ['10.255.255.53', '127.0.0.53', '10.9.0.5', '8.8.8.8'];
    expect(allowedUpstreams(servers, false, '10.9.0.0/24')).toEqual(servers);
    expect(allowedUpstreams(servers, true, '10.9.0.0/24')).toEqual(['10.9.0.5']);
    expect(allowedUpstreams(['::1', 'bogus'], true, '10.9.0.0/24')).toEqual([]);
  });
});

describe('DnsServer on loopback (real sockets)', () => {
  const sockets: dgram.Socket[] = [];
  const servers: DnsServer[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    for (const s of servers.splice(0)) await s.close();
  });
  const udp = async (address = '127.0.0.1') => {
    const s = dgram.createSocket('udp4');
    sockets.push(s);
    await new Promise<void>((r) => s.bind(0, address, () => r()));
    return s;
  };
  const start = async (opts: Partial<ConstructorParameters<typeof DnsServer>[0]>) => {
    const s = new DnsServer({
      address: '127.0.0.1',
      port: 0,
      lookup: (n) => (n === 'web' ? ['10.1.2.3'] : undefined),
      allowClient: () => true,
      forwarders: [],
      ...opts,
    });
    servers.push(s);
    await s.start();
    return s;
  };
  const nextMessage = (s: dgram.Socket) => new Promise<[Buffer, dgram.RemoteInfo]>((r) => s.once('message', (m, ri) => r([m, ri])));

  it('drops queries from clients that are not endpoints of the network (UDP and TCP)', async () => {
    const server = await start({ allowClient: (a) => a === '127.0.0.1' });
    const stranger = await udp('127.0.0.2');
    const member = await udp('127.0.0.1');
    const strangerGot: Buffer[] = [];
    stranger.on('message', (m) => strangerGot.push(m));
    // the stranger asks first; the member's answer arrives after the stranger's query was handled
    await new Promise<void>((r) => stranger.send(query(1, 'web'), server.port, '127.0.0.1', () => r()));
    const got = nextMessage(member);
    member.send(query(2, 'web'), server.port, '127.0.0.1');
    expect(lastA((await got)[0])).toBe('10.1.2.3');
    const again = nextMessage(member);
    member.send(query(3, 'web'), server.port, '127.0.0.1');
    await again;
    expect(strangerGot).toEqual([]);
    expect(server.stats.refusedClients).toBe(1);

    // TCP from a stranger: closed without a byte
    const data = await new Promise<Buffer>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const c = net.connect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => {
        const q = query(4, 'web');
        const len = Buffer.alloc(2);
        len.writeUInt16BE(q.length);
        c.write(Buffer.concat([len, q]));
      });
      c.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
      c.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? undefined : reject(e)));
      c.on('close', () => resolve(buf));
    });
    expect(data.length).toBe(0);
    expect(server.stats.refusedClients).toBe(2);
  });

  it('with port 0, picks another port when the TCP side of the one UDP got is taken', async () => {
    // the kernel's free UDP port may be any TCP socket's local port: the first TCP listen fails
    const listen = net.Server.prototype.listen;
    let failed = 0;
    const spy = jest.spyOn(net.Server.prototype, 'listen').mockImplementation(function (this: net.Server, ...args: unknown[]) {
      if (failed++ === 0) {
        process.nextTick(() => this.emit('error', Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })));
        return this;
      }
      return (listen as (...a: unknown[]) => net.Server).apply(this, args);
    });
    try {
      const server = await start({});
      expect(failed).toBe(2);
      const client = await udp();
      const got = nextMessage(client);
      client.send(query(9, 'web'), server.port, '127.0.0.1');
      expect(lastA((await got)[0])).toBe('10.1.2.3');
    } finally {
      spy.mockRestore();
    }
  });

  it('takes the upstream reply only from the socket it asked, with the id it sent', async () => {
    const upstream = await udp();
    const attacker = await udp();
    const server = await start({ forwarders: ['127.0.0.1'], upstreamPort: upstream.address().port });
    const client = await udp();
    const answered = nextMessage(client);
    const asked = nextMessage(upstream);
    client.send(query(0x4242, 'far.example'), server.port, '127.0.0.1');
    const [fwd, from] = await asked;
    const id = fwd.readUInt16BE(0);
    // a forged answer with the right id and question, from another port: the connected socket never sees it
    await new Promise<void>((r) => attacker.send(answerTo(fwd, '6.6.6.6'), from.port, from.address, () => r()));
    // the real server with a wrong id: read and ignored
    const wrong = answerTo(fwd, '6.6.6.7');
    wrong.writeUInt16BE((id + 1) & 0xffff, 0);
    await new Promise<void>((r) => upstream.send(wrong, from.port, from.address, () => r()));
    upstream.send(answerTo(fwd, '203.0.113.9'), from.port, from.address);
    const [reply] = await answered;
    expect(reply.readUInt16BE(0)).toBe(0x4242);
    expect(lastA(reply)).toBe('203.0.113.9');
    expect(server.stats.rejectedReplies).toBe(1);
  });

  it('forwards each query from its own ephemeral port with its own random id', async () => {
    const upstream = await udp();
    const seen: [number, number][] = [];
    upstream.on('message', (m, ri) => {
      seen.push([ri.port, m.readUInt16BE(0)]);
      upstream.send(answerTo(m, '203.0.113.1'), ri.port, ri.address);
    });
    const server = await start({ forwarders: ['127.0.0.1'], upstreamPort: upstream.address().port });
    const client = await udp();
    for (let i = 0; i < 4; i++) {
      const got = nextMessage(client);
      client.send(query(7, `q${i}.example`), server.port, '127.0.0.1');
      expect((await got)[0].readUInt16BE(0)).toBe(7);
    }
    expect(new Set(seen.map(([p]) => p)).size).toBeGreaterThan(1);
    expect(new Set(seen.map(([, i]) => i)).size).toBeGreaterThan(1);
    expect(seen.every(([p]) => p !== server.port)).toBe(true);
  });
});
