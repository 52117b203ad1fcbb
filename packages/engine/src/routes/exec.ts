import type { ExecBackend } from '../backend/containers';
import type { EngineContext } from '../context';
import { decode } from '../containers/decode';
import { EXEC_START_BODY } from '../containers/validate';
import { Reply, type Router } from '../http/router';
import { serveAttach } from '../streams/attach';

/** POST /containers/{id}/exec, POST /exec/{id}/start, POST /exec/{id}/resize, GET /exec/{id}/json. */
export function registerExecRoutes(router: Router, ctx: EngineContext, execs: ExecBackend): void {
  router.post('/containers/:id/exec', async (c) => Reply.created(execs.create(c.params.id!, await c.json<Record<string, unknown>>())));
  router.post('/exec/:id/start', async (c) => {
    const body = (decode(await c.json<unknown>(), EXEC_START_BODY, 'ExecStartOptions') ?? {}) as {
      Detach?: boolean;
      Tty?: boolean;
      ConsoleSize?: [number, number];
    };
    let served: Promise<unknown> | undefined;
    const e = await execs.start(c.params.id!, {
      detach: body.Detach === true,
      tty: body.Tty,
      beforeStart: body.Detach
        ? undefined
        : (ex) => {
            const tty = body.Tty ?? ex.Config.Tty === true;
            const conn = c.hijack(tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
            served = serveAttach(conn, ex.io!, {
              stdin: ex.Config.AttachStdin === true,
              stdout: ex.Config.AttachStdout !== false,
              stderr: ex.Config.AttachStderr !== false,
              tty,
              stream: true,
              detachKeys: ex.Config.DetachKeys || undefined,
              stdinOnce: true,
              beforeEnd: () => Promise.race([ex.codeKnown, new Promise<void>((r) => setTimeout(r, 5000))]),
              // as dockerd: the error, then CRLF, on the stream's stdout
              trailer: () => (ex.startError ? `${ex.startError}\r\n` : undefined),
              onStdinClosed: () => execs.closeStdin(ex),
            });
          },
    });
    if (body.Detach) return new Reply(200, undefined);
    await served;
    ctx.log.debug('exec attach ended', { exec: e.ID });
    return Reply.handled;
  });
  router.post('/exec/:id/resize', async (c) => {
    await execs.resize(c.params.id!, Number(c.query.get('h') ?? '0'), Number(c.query.get('w') ?? '0'));
    return new Reply(200, undefined);
  });
  router.get('/exec/:id/json', (c) => execs.inspect(c.params.id!));
}
