/**
 * The tar reader under hostile input: every malformed size, PAX record or truncation is a
 * TarFormatError (never a hang, never a silent misread), PAX headers apply as Go's archive/tar
 * applies them, and a long read lets the event loop run.
 */
import { ByteSource, MAX_TRAILING, readTar, readTarMembers, TarFormatError, type TarHeader } from '../src/tar';
import { chunked, END, fileMember, hostileArchives, paxHeader, paxRecord, rawHeader } from '@gantry/testkit';

/** Every member (header and data) of `tar`, or the error. */
async function readAll(src: AsyncIterable<Buffer>): Promise<{ header: TarHeader; data: string }[]> {
  return (await readTarMembers(src)).map(({ header, data }) => ({ header, data: data.toString('latin1') }));
}

describe('tar reader: hostile sizes and records', () => {
  for (const { name, tar, error } of hostileArchives()) {
    it(`refuses ${name} (in one chunk and in small ones)`, async () => {
      for (const piece of [tar.length, 100, 1]) {
        const err = await readAll(chunked(tar, piece)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(TarFormatError);
        expect((err as Error).message).toMatch(error);
      }
    });
  }

  it('the reported archive (PAX size=1.5) fails while a timer set before it still fires', async () => {
    // the bug: reads of 0.5 bytes returned empty buffers forever, on microtasks only
    const tar = Buffer.concat([paxHeader(paxRecord('size', '1.5')), fileMember('f', 'xx'), END]);
    let fired = false;
    setImmediate(() => (fired = true));
    await expect(readAll(chunked(tar, tar.length))).rejects.toThrow(TarFormatError);
    await new Promise((r) => setImmediate(r));
    expect(fired).toBe(true);
  });

  it('fails at every truncation point of a valid archive, never hangs or passes', async () => {
    const tar = Buffer.concat([
      paxHeader(paxRecord('path', 'long/' + 'n'.repeat(150))),
      fileMember('a', 'x'.repeat(700)),
      rawHeader({ name: 'd/', type: '5' }),
      fileMember('b', ''),
      END,
    ]);
    expect((await readAll(chunked(tar))).map((m) => m.header.name)).toEqual(['long/' + 'n'.repeat(150), 'd/', 'b']);
    // past the first end block the reader accepts EOF (one zero block then EOF, as GNU tar)
    const firstEnd = tar.length - 1024;
    for (let cut = 0; cut < firstEnd; cut += 37) {
      await expect(readAll(chunked(tar.subarray(0, cut), 64))).rejects.toThrow(TarFormatError);
    }
  });

  it('a later PAX header replaces an earlier one; a later record in one header replaces an earlier one', async () => {
    const tar = Buffer.concat([
      paxHeader(Buffer.concat([paxRecord('path', 'first'), paxRecord('uid', '7')])),
      paxHeader(paxRecord('mtime', '5')),
      fileMember('real', 'x'),
      paxHeader(Buffer.concat([paxRecord('path', 'one'), paxRecord('path', 'two')])),
      fileMember('y', 'y'),
      END,
    ]);
    const [a, b] = await readAll(chunked(tar));
    // the first header's path and uid are gone: not merged into the second
    expect({ name: a!.header.name, uid: a!.header.uid, mtime: a!.header.mtime }).toEqual({ name: 'real', uid: 0, mtime: 5 });
    expect(b!.header.name).toBe('two');
  });

  it('a PAX header does not outlive a global header', async () => {
    const tar = Buffer.concat([paxHeader(paxRecord('path', 'lost')), paxHeader(paxRecord('comment', 'hi'), 'g'), fileMember('kept', 'x'), END]);
    expect((await readAll(chunked(tar))).map((m) => m.header.name)).toEqual(['kept']);
  });

  it('header-only types carry no data whatever their size field says (Go archive/tar)', async () => {
    const tar = Buffer.concat([
      rawHeader({ name: 'l', type: '2', linkname: 't', size: 600 }),
      rawHeader({ name: 'd/', type: '5', size: 1 }),
      fileMember('f', 'data'),
      END,
    ]);
    const got = await readAll(chunked(tar));
    expect(got.map((m) => [m.header.name, m.header.type, m.header.size, m.data])).toEqual([
      ['l', 'symlink', 0, ''],
      ['d/', 'dir', 0, ''],
      ['f', 'file', 4, 'data'],
    ]);
  });

  it('reads base-256 sizes and space/NUL-padded octal as Go does', async () => {
    const size = Buffer.alloc(12);
    size[0] = 0x80;
    size[11] = 3;
    const tar = Buffer.concat([
      rawHeader({ name: 'b', size }),
      Buffer.from('abc'),
      Buffer.alloc(509),
      rawHeader({ name: 'o', size: Buffer.from('  3 \0\0\0\0\0\0\0\0') }),
      Buffer.from('xyz'),
      Buffer.alloc(509),
      END,
    ]);
    expect((await readAll(chunked(tar))).map((m) => m.data)).toEqual(['abc', 'xyz']);
  });

  it('accepts PAX times with a fraction or a sign, and uid/gid up to 2^32-1', async () => {
    const tar = Buffer.concat([
      paxHeader(Buffer.concat([paxRecord('mtime', '-12.5'), paxRecord('atime', '3.'), paxRecord('uid', '4294967295')])),
      fileMember('f', ''),
      END,
    ]);
    const [m] = await readAll(chunked(tar));
    expect([m!.header.mtime, m!.header.atime, m!.header.uid]).toEqual([-12.5, 3, 4294967295]);
    const over = Buffer.concat([paxHeader(paxRecord('gid', '4294967296')), fileMember('f', ''), END]);
    await expect(readAll(chunked(over))).rejects.toThrow(/invalid PAX gid/);
  });

  it('refuses a NUL in a PAX path or key', async () => {
    await expect(readAll(chunked(Buffer.concat([paxHeader(paxRecord('path', 'a\0b')), fileMember('f', ''), END])))).rejects.toThrow(/NUL/);
    await expect(readAll(chunked(Buffer.concat([paxHeader(paxRecord('k\0y', 'v')), fileMember('f', ''), END])))).rejects.toThrow(/NUL/);
  });

  it('readTarMembers reads a small archive from an array or a stream, and refuses more data than its bound', async () => {
    const tar = Buffer.concat([fileMember('a', 'x'.repeat(600)), fileMember('b', 'y'.repeat(600)), END]);
    expect((await readTarMembers([tar])).map((m) => [m.header.name, m.data.length])).toEqual([
      ['a', 600],
      ['b', 600],
    ]);
    await expect(readTarMembers(chunked(tar), 1199)).rejects.toThrow(/b: member data over the 1199-byte limit/);
    expect(await readTarMembers(chunked(tar), 1200)).toHaveLength(2);
  });

  it('ByteSource refuses counts that cannot progress', async () => {
    const src = new ByteSource(chunked(Buffer.from('abc')));
    await expect(src.some(0.5)).rejects.toThrow(RangeError);
    await expect(src.some(0)).rejects.toThrow(RangeError);
    await expect(src.exact(-1)).rejects.toThrow(RangeError);
    await expect(src.skip(Number.NaN)).rejects.toThrow(RangeError);
    expect((await src.some(10))?.toString()).toBe('abc');
  });

  it('drain() stops past its limit (gigabytes of zeros after the end marker)', async () => {
    async function* zeros(): AsyncGenerator<Buffer> {
      const z = Buffer.alloc(1 << 20);
      for (let i = 0; i < 1 << 11; i++) yield z; // 2 GiB if read to the end
    }
    const src = new ByteSource(zeros());
    for await (const _ of readTar(src)) throw new Error('no member expected');
    await expect(src.drain()).rejects.toThrow(new RegExp(`more than ${MAX_TRAILING} bytes after the end-of-archive marker`));
  });

  it('lets the event loop run while reading a source of empty chunks and of many buffered members', async () => {
    let released = false;
    setTimeout(() => (released = true), 1);
    async function* source(): AsyncGenerator<Buffer> {
      // empty chunks until a timer has run: a reader that starves the loop never gets past this
      while (!released) yield Buffer.alloc(0);
      const members: Buffer[] = [];
      for (let i = 0; i < 5000; i++) members.push(fileMember(`f${i}`, ''));
      yield Buffer.concat([...members, END]);
    }
    let seenBy: number | undefined;
    let count = 0;
    setTimeout(() => (seenBy = count), 1);
    for await (const { body } of readTar(new ByteSource(source()))) {
      count++;
      await body.chunk();
    }
    expect(count).toBe(5000);
    // the second timer ran before the last member was read: buffered parsing yielded
    expect(seenBy).toBeDefined();
    expect(seenBy!).toBeLessThan(5000);
  });
});
