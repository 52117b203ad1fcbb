import { applyToConfig, historyCreatedBy, multiSourceHash, parseDockerfile, type HistoryContext, type Instruction } from '../src';

function one(line: string): Instruction {
  return parseDockerfile(`FROM scratch\n${line}`).stages[0]!.instructions[0]!;
}

/** created_by after applying the instruction to an empty config, as the builder would. */
function createdBy(line: string, ctx: HistoryContext = {}): string | undefined {
  const i = one(line);
  const cfg = applyToConfig({ rootfs: { type: 'layers', diff_ids: [] }, config: ctx.config ?? {} }, i, ctx.env ?? {});
  return historyCreatedBy(i, { ...ctx, config: cfg.config });
}

describe('historyCreatedBy', () => {
  it('metadata instructions: #(nop) and two spaces', () => {
    expect(createdBy('CMD ["sh"]')).toBe('/bin/sh -c #(nop)  CMD ["sh"]');
    expect(createdBy('CMD echo "hi"')).toBe('/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo \\"hi\\""]');
    expect(createdBy('ENV A=$X B="two words"', { env: { X: '1' } })).toBe('/bin/sh -c #(nop)  ENV A=1 B=two words');
    expect(createdBy('LABEL maintainer=me')).toBe('/bin/sh -c #(nop)  LABEL maintainer=me');
    expect(createdBy('EXPOSE 8080 80/udp')).toBe('/bin/sh -c #(nop)  EXPOSE 80/udp 8080');
    expect(createdBy('VOLUME ["/data", "/logs"]')).toBe('/bin/sh -c #(nop)  VOLUME [/data /logs]');
    expect(createdBy('ENTRYPOINT ["/docker-entrypoint.sh"]')).toBe('/bin/sh -c #(nop)  ENTRYPOINT ["/docker-entrypoint.sh"]');
    expect(createdBy('USER nobody')).toBe('/bin/sh -c #(nop)  USER nobody');
    expect(createdBy('STOPSIGNAL SIGQUIT')).toBe('/bin/sh -c #(nop)  STOPSIGNAL SIGQUIT');
    expect(createdBy('ARG A B=2')).toBe('/bin/sh -c #(nop)  ARG A B=2');
    expect(createdBy('ONBUILD RUN make')).toBe('/bin/sh -c #(nop)  ONBUILD RUN make');
    expect(createdBy('MAINTAINER me')).toBe('/bin/sh -c #(nop)  MAINTAINER me');
  });

  it('SHELL is the new shell, and prefixes the line', () => {
    expect(createdBy('SHELL ["/bin/bash", "-c"]')).toBe('/bin/bash -c #(nop)  SHELL [/bin/bash -c]');
    expect(createdBy('ENV A=1', { config: { Shell: ['/bin/ash', '-eo', 'pipefail', '-c'] } })).toBe('/bin/ash -eo pipefail -c #(nop)  ENV A=1');
  });

  it('HEALTHCHECK as Go prints the config struct', () => {
    expect(createdBy('HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1')).toBe(
      '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "5m0s" "3s" "0s" "0s" \'\\x00\'}',
    );
    expect(createdBy('HEALTHCHECK --retries=3 --start-period=1500ms CMD ["true"]')).toBe(
      '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD" "true"] "0s" "0s" "1.5s" "0s" \'\\x03\'}',
    );
  });

  it('WORKDIR, COPY and ADD: one space, the resulting directory, the source hash', () => {
    expect(createdBy('WORKDIR app', { config: { WorkingDir: '/srv' } })).toBe('/bin/sh -c #(nop) WORKDIR /srv/app');
    expect(createdBy('COPY a /x', { sourceHash: 'file:abc' })).toBe('/bin/sh -c #(nop) COPY file:abc in /x ');
    expect(createdBy('ADD --chown=1:2 a b $D/', { sourceHash: 'multi:def', env: { D: '/d' } })).toBe('/bin/sh -c #(nop) ADD --chown=1:2multi:def in /d/ ');
  });

  it('RUN: the command, after the build args in scope', () => {
    expect(createdBy('RUN make')).toBe('/bin/sh -c make');
    expect(createdBy('RUN make', { buildArgs: ['A=1', 'B=2'] })).toBe('|2 A=1 B=2 /bin/sh -c make');
    expect(createdBy('RUN ["make", "all"]', { buildArgs: [] })).toBe('|0 make all');
  });

  it('FROM writes no history', () => {
    expect(historyCreatedBy(parseDockerfile('FROM a').stages[0]!.from)).toBeUndefined();
  });

  it('multiSourceHash', () => {
    expect(multiSourceHash(['file:a'])).toBe('file:a');
    expect(multiSourceHash(['file:a', 'dir:b'])).toMatch(/^multi:[0-9a-f]{64}$/);
  });
});
