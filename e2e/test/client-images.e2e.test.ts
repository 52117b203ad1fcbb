/**
 * @gantry/client's image endpoints against a running gantryd: list, inspect, history, tag,
 * remove, save/load (progress messages), import, commit, build from a tar context (its stream,
 * and a failing step thrown as a ProgressError), prune.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ConflictError, type EngineClient, NotFoundError, ProgressError, type JsonMessage } from '@gantry/client';
import { describeIf, needRoot } from '@gantry/testkit';
import { clientFor, drain, readAll, tarNames, tarOf } from '../src/client';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

const d = describeIf(needRoot());

d('client: images and build', () => {
  let h: GantrydHarness;
  let client: EngineClient;
  const repo = `client-img-${process.pid}`;

  beforeAll(async () => {
    h = await sharedGantryd();
    client = clientFor(h);
  }, 120000);

  afterAll(async () => {
    await h?.stop();
  }, 60000);

  it('lists, inspects and shows the history of busybox', async () => {
    const list = await client.images.list();
    const bb = list.find((i) => i.RepoTags.includes('busybox:latest'));
    expect(bb?.Id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const info = await client.images.inspect('busybox:latest');
    expect(info.Id).toBe(bb!.Id);
    expect(info.Os).toBe('linux');
    expect(info.RootFS.Type).toBe('layers');
    const history = await client.images.history('busybox');
    expect(history.length).toBeGreaterThanOrEqual(1);
    expect(history[0]!.Tags).toContain('busybox:latest');
    await expect(client.images.inspect('no-such-image:client')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('tags and removes a tag (Untagged, not Deleted: busybox still holds the image)', async () => {
    await client.images.tag('busybox:latest', `${repo}/tagged`, 'v1');
    expect((await client.images.inspect(`${repo}/tagged:v1`)).RepoTags).toContain(`${repo}/tagged:v1`);
    expect(await client.images.list({ filters: { reference: [`${repo}/tagged`] } })).toHaveLength(1);
    expect(await client.images.remove(`${repo}/tagged:v1`)).toEqual([{ Untagged: `${repo}/tagged:v1` }]);
  });

  it('saves to a docker-archive and loads it back with progress messages', async () => {
    await client.images.tag('busybox:latest', `${repo}/saved`, 'v1');
    const tar = await readAll(await client.images.save([`${repo}/saved:v1`]));
    expect(tarNames(tar)).toContain('manifest.json');
    await client.images.remove(`${repo}/saved:v1`);
    const msgs = await drain(client.images.load(tar));
    expect(msgs.map((m) => m.stream ?? m.status ?? '').join('')).toContain(`Loaded image: ${repo}/saved:v1`);
    await client.images.remove(`${repo}/saved:v1`);
    // not a tar: the daemon's failure arrives as a typed error (status or in-band)
    await expect(drain(client.images.load(Buffer.from('not a tar at all')))).rejects.toThrow();
  });

  it('imports a filesystem tar as an image, with changes', async () => {
    const dir = fs.mkdtempSync(join(h.dir, 'client-import-'));
    fs.writeFileSync(join(dir, 'file.txt'), 'imported\n');
    const msgs = await drain(
      client.images.import(tarOf(dir), { repo: `${repo}/imported`, tag: 'v1', changes: ['ENV FROM_IMPORT=1'], message: 'by the client' }),
    );
    const id = msgs.map((m) => m.status ?? '').find((s) => s.startsWith('sha256:'));
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const info = await client.images.inspect(`${repo}/imported:v1`);
    expect(info.Id).toBe(id);
    expect(info.Config.Env).toContain('FROM_IMPORT=1');
    await client.images.remove(`${repo}/imported:v1`);
  });

  it('commits a container to an image', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo committed > /c.txt'] });
    await client.containers.start(Id);
    await client.containers.wait(Id);
    const img = await client.images.commit({
      container: Id,
      repo: `${repo}/committed`,
      tag: 'v1',
      changes: ['CMD ["cat", "/c.txt"]'],
      comment: 'client commit',
    });
    expect(img.Id).toMatch(/^sha256:/);
    const info = await client.images.inspect(`${repo}/committed:v1`);
    expect(info.Config.Cmd).toEqual(['cat', '/c.txt']);
    expect(info.Comment).toBe('client commit');
    // an image in use by a container cannot be removed without force
    const user = await client.containers.create({ Image: `${repo}/committed:v1` });
    await expect(client.images.remove(img.Id)).rejects.toBeInstanceOf(ConflictError);
    await client.containers.remove(user.Id);
    await client.containers.remove(Id);
    await client.images.remove(`${repo}/committed:v1`);
  });

  it('builds from a tar context: the output stream, the image ID in aux, tags and build args', async () => {
    const ctx = fs.mkdtempSync(join(h.dir, 'client-build-'));
    fs.writeFileSync(
      join(ctx, 'Dockerfile'),
      'FROM busybox\nARG GREETING=none\nCOPY hello.txt /hello.txt\nRUN echo "$GREETING" > /greeting\nCMD ["cat", "/greeting"]\n',
    );
    fs.writeFileSync(join(ctx, 'hello.txt'), 'hi\n');
    const msgs: JsonMessage[] = await drain(
      client.images.build(tarOf(ctx), { tags: [`${repo}/built:v1`], buildargs: { GREETING: 'from-client' }, labels: { by: 'client' } }),
    );
    const text = msgs.map((m) => m.stream ?? '').join('');
    expect(text).toContain('Step 1/');
    expect(text).toContain(`Successfully tagged ${repo}/built:v1`);
    const aux = msgs.find((m) => m.aux !== undefined)?.aux as { ID?: string } | undefined;
    const info = await client.images.inspect(`${repo}/built:v1`);
    expect(aux?.ID).toBe(info.Id);
    expect(info.Config.Labels).toMatchObject({ by: 'client' });

    const { Id } = await client.containers.create({ Image: `${repo}/built:v1` });
    await client.containers.start(Id);
    await client.containers.wait(Id);
    const out: string[] = [];
    for await (const f of client.containers.logs(Id)) out.push(f.data.toString());
    expect(out.join('')).toBe('from-client\n');
    await client.containers.remove(Id);
    await client.images.remove(`${repo}/built:v1`);
  });

  it('a failing build step is thrown as a ProgressError with the daemon message', async () => {
    const ctx = fs.mkdtempSync(join(h.dir, 'client-buildfail-'));
    fs.writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN exit 9\n');
    const seen: JsonMessage[] = [];
    const err = await (async () => {
      for await (const m of client.images.build(tarOf(ctx), { tags: [`${repo}/fails:v1`] })) seen.push(m);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProgressError);
    expect((err as ProgressError).message).toMatch(/returned a non-zero code: 9/);
    expect(seen.map((m) => m.stream ?? '').join('')).toContain('RUN exit 9');
    await expect(client.images.inspect(`${repo}/fails:v1`)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('prunes dangling images', async () => {
    const dir = fs.mkdtempSync(join(h.dir, 'client-dangling-'));
    fs.writeFileSync(join(dir, 'x'), String(process.hrtime.bigint()));
    const msgs = await drain(client.images.import(tarOf(dir)));
    const id = msgs.map((m) => m.status ?? '').find((s) => s.startsWith('sha256:'))!;
    const pruned = await client.images.prune({ filters: { dangling: ['true'] } });
    expect(pruned.ImagesDeleted).toEqual(expect.arrayContaining([{ Deleted: id }]));
    await expect(client.images.inspect(id)).rejects.toBeInstanceOf(NotFoundError);
  });
});
