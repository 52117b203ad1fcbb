import * as dgram from 'node:dgram';
import { buildResponse, encodeName, parseQuery, readName, TYPE_A, TYPE_AAAA, RCODE_NXDOMAIN } from '../src/dns/message';
import { DnsServer, upstreamNameservers } from '../src/dns/server';

function query(id: number, name: string, type = TYPE_A): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2); // RD
  h.writeUInt16BE(1, 4);
  const t = Buffer.alloc(4);
  t.writeUInt16BE(type, 0);
  t.writeUInt16BE(1, 2);
  return Buffer.concat([h, encodeName(name), t]);
}

describe('DNS messages', () => {
  it('parses a query and follows compression pointers', () => {
    const q = parseQuery(query(0x1234, 'Web.Example.'));
    expect(q).toMatchObject({ id: 0x1234, opcode: 0, recursionDesired: true, questions: [{ name: 'web.example', type: TYPE_A, class: 1 }] });
    const buf = Buffer.concat([query(1, 'a.b'), Buffer.from([0xc0, 12])]);
    expect(readName(buf, buf.length - 2)).toEqual({ name: 'a.b', next: buf.length });
  });
  it('writes A records pointing at the question name', () => {
    const q = parseQuery(query(7, 'web'));
    const r = buildResponse(q, 0, { a: ['10.1.2.3', '10.1.2.4'], ttl: 600 });
    expect(r.readUInt16BE(0)).toBe(7);
    expect(r.readUInt16BE(2) & 0x8000).toBe(0x8000); // QR
    expect(r.readUInt16BE(6)).toBe(2); // ANCOUNT
    const firstRr = 12 + encodeName('web').length + 4;
    expect(r.readUInt16BE(firstRr)).toBe(0xc00c);
    expect([...r.subarray(firstRr + 12, firstRr + 16)]).toEqual([10, 1, 2, 3]);
    expect(r.length).toBe(firstRr + 32);
  });
  it('refuses malformed names', () => {
    expect(() => parseQuery(Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 97]))).toThrow();
  });
  it('reads nameservers from resolv.conf', () => {
    expect(upstreamNameservers('# x\nnameserver 10.0.0.2\nnameserver ::1\nsearch a\nnameserver 127.0.0.53\n')).toEqual(['10.0.0.2', '127.0.0.53']);
  });
});

describe('DnsServer', () => {
  let upstream: dgram.Socket;
  let server: DnsServer;
  beforeAll(async () => {
    upstream = dgram.createSocket('udp4');
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    server = new DnsServer({ address: '127.0.0.1', port: 0, lookup: (n) => (n === 'web' ? ['10.1.2.3'] : undefined), allowClient: () => true, forwarders: [] });
    await server.start();
  });
  afterAll(async () => {
    upstream.close();
    await server.close();
  });
  const ask = (msg: Buffer) =>
    new Promise<Buffer>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.on('message', (m) => {
        s.close();
        resolve(m);
      });
      s.send(msg, server.port, '127.0.0.1');
    });

  it('answers its names over UDP, AAAA with no records, others SERVFAIL without upstreams', async () => {
    const a = await ask(query(9, 'WEB'));
    expect(a.readUInt16BE(0)).toBe(9);
    expect(a.readUInt16BE(6)).toBe(1);
    expect([...a.subarray(a.length - 4)]).toEqual([10, 1, 2, 3]);
    const aaaa = await ask(query(10, 'web', TYPE_AAAA));
    expect(aaaa.readUInt16BE(2) & 0xf).toBe(0);
    expect(aaaa.readUInt16BE(6)).toBe(0);
    const other = await ask(query(11, 'example.org'));
    expect(other.readUInt16BE(2) & 0xf).toBe(2);
  });

  it('forwards names it does not own to the upstream and relays its answer', async () => {
    upstream.on('message', (m, r) => upstream.send(buildResponse(parseQuery(m), RCODE_NXDOMAIN, undefined, false), r.port, r.address));
    const fwd = new DnsServer({
      address: '127.0.0.1',
      port: 0,
      lookup: () => undefined,
      allowClient: () => true,
      forwarders: ['127.0.0.1'],
      upstreamPort: upstream.address().port,
    });
    await fwd.start();
    try {
      const s = dgram.createSocket('udp4');
      const reply = await new Promise<Buffer>((resolve) => {
        s.on('message', (m) => resolve(m));
        s.send(query(13, 'elsewhere.example'), fwd.port, '127.0.0.1');
      });
      s.close();
      expect(reply.readUInt16BE(0)).toBe(13);
      expect(reply.readUInt16BE(2) & 0xf).toBe(RCODE_NXDOMAIN);
    } finally {
      await fwd.close();
    }
  });

  it('answers over TCP with length framing', async () => {
    const net = await import('node:net');
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(server.port, '127.0.0.1', () => {
        const q = query(12, 'web');
        const len = Buffer.alloc(2);
        len.writeUInt16BE(q.length);
        s.write(Buffer.concat([len, q]));
      });
      let buf = Buffer.alloc(0);
      s.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          s.end();
          resolve(buf.subarray(2));
        }
      });
      s.on('error', reject);
    });
    expect(reply.readUInt16BE(0)).toBe(12);
    expect([...reply.subarray(reply.length - 4)]).toEqual([10, 1, 2, 3]);
  });
});
