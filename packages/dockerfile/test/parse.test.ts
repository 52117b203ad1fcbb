import { parseDockerfile, DockerfileSyntaxError, type Instruction } from '../src';

function only(text: string): Instruction {
  const df = parseDockerfile(`FROM scratch\n${text}`);
  expect(df.stages[0]!.instructions).toHaveLength(1);
  return df.stages[0]!.instructions[0]!;
}

function syntaxError(text: string): DockerfileSyntaxError {
  try {
    parseDockerfile(text);
  } catch (e) {
    expect(e).toBeInstanceOf(DockerfileSyntaxError);
    return e as DockerfileSyntaxError;
  }
  throw new Error('parsed without error');
}

describe('parseDockerfile: structure', () => {
  it('splits global ARGs and named stages', () => {
    const df = parseDockerfile(['ARG BASE=alpine', 'ARG V', 'FROM $BASE:${V:-3} AS Build', 'RUN make', 'FROM scratch', 'COPY --from=build /out /'].join('\n'));
    expect(df.escapeChar).toBe('\\');
    expect(df.args.map((a) => a.args)).toEqual([[{ key: 'BASE', value: 'alpine' }], [{ key: 'V' }]]);
    expect(df.stages).toHaveLength(2);
    expect(df.stages[0]).toMatchObject({ index: 0, name: 'build', from: { kind: 'FROM', image: '$BASE:${V:-3}', stageName: 'build', line: 3 } });
    expect(df.stages[0]!.instructions.map((i) => i.kind)).toEqual(['RUN']);
    expect(df.stages[1]!.name).toBeUndefined();
    expect(df.stages[1]!.instructions[0]).toMatchObject({ kind: 'COPY', from: 'build', sources: ['/out'], dest: '/', line: 6 });
  });

  it('keywords are case-insensitive and keep their spelling in `keyword`', () => {
    const i = only('run echo hi');
    expect(i).toMatchObject({ kind: 'RUN', keyword: 'run', command: { form: 'shell', command: 'echo hi' } });
  });

  it('joins continuation lines, skipping comments and blank lines inside, and counts lines', () => {
    const df = parseDockerfile(['FROM busybox', 'RUN echo a \\', '  # a comment', '', '    && echo b', 'CMD ["sh"]'].join('\n'));
    const [run, cmd] = df.stages[0]!.instructions;
    expect(run).toMatchObject({
      kind: 'RUN',
      line: 2,
      endLine: 5,
      original: 'RUN echo a     && echo b',
      command: { form: 'shell', command: 'echo a     && echo b' },
    });
    expect(cmd).toMatchObject({ kind: 'CMD', line: 6, command: { form: 'exec', argv: ['sh'] } });
    expect(df.warnings).toEqual(['Empty continuation line found in: RUN echo a     && echo b']);
  });

  it('an escaped escape character at the end of a line is not a continuation', () => {
    const df = parseDockerfile('FROM busybox\nRUN echo a\\\\\nRUN b');
    expect(df.stages[0]!.instructions).toHaveLength(2);
  });

  it('a continuation at the end of the file ends the instruction', () => {
    expect(parseDockerfile('FROM busybox\nRUN echo \\').stages[0]!.instructions[0]).toMatchObject({ command: { form: 'shell', command: 'echo' } });
  });

  it('honours `# escape=`` (Windows style) and CRLF line ends', () => {
    const df = parseDockerfile('# escape=`\r\nFROM mcr/windows\r\nRUN dir c:\\ `\r\n  && echo done\r\nCOPY a`  b c:\\x\\\r\n');
    expect(df.escapeChar).toBe('`');
    expect(df.directives).toEqual({ escape: '`' });
    const [run, copy] = df.stages[0]!.instructions;
    expect(run).toMatchObject({ command: { form: 'shell', command: 'dir c:\\   && echo done' } });
    expect(copy).toMatchObject({ kind: 'COPY', sources: ['a`', 'b'], dest: 'c:\\x\\' });
  });

  it('reads directives only at the top: after a comment or an instruction they are comments', () => {
    expect(parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM a').escapeChar).toBe('`');
    expect(parseDockerfile('# hello\n# escape=`\nFROM a').escapeChar).toBe('\\');
    expect(parseDockerfile('\n# escape=`\nFROM a').escapeChar).toBe('\\');
    expect(parseDockerfile('FROM a\n# escape=`\n').escapeChar).toBe('\\');
  });

  it('refuses a bad or repeated escape directive', () => {
    expect(syntaxError('# escape=x\nFROM a').reason).toBe("invalid escape token 'x' does not match ` or \\");
    expect(syntaxError('# escape=`\n# escape=\\\nFROM a').reason).toBe('only one escape parser directive can be used');
  });

  it('strips a byte-order mark', () => {
    expect(parseDockerfile('\ufeffFROM a').stages[0]!.from.image).toBe('a');
  });
});

describe('parseDockerfile: forms', () => {
  it('exec and shell forms of RUN, CMD and ENTRYPOINT; invalid JSON falls back to the shell form', () => {
    expect(only('RUN ["echo", "a b"]')).toMatchObject({ command: { form: 'exec', argv: ['echo', 'a b'] } });
    expect(only("CMD ['echo']")).toMatchObject({ command: { form: 'shell', command: "['echo']" } });
    expect(only('ENTRYPOINT ["a",')).toMatchObject({ command: { form: 'shell', command: '["a",' } });
    expect(only('ENTRYPOINT []')).toMatchObject({ command: { form: 'exec', argv: [] } });
    expect(syntaxError('FROM a\nCMD ["a", 1]')).toMatchObject({ line: 2, reason: 'when using JSON array syntax, arrays must be comprised of strings only' });
  });

  it('ENV and LABEL in both forms, quotes kept for expansion', () => {
    expect(() => parseDockerfile('FROM a\nENV A=1 B')).toThrow('Syntax error - can\'t find = in "B". Must be of the form: name=value');
    expect(only('ENV A=1 B="two words"')).toMatchObject({
      pairs: [
        { key: 'A', value: '1', legacy: false },
        { key: 'B', value: '"two words"', legacy: false },
      ],
    });
    expect(only('ENV PATH /usr/bin:$PATH  and more')).toMatchObject({ pairs: [{ key: 'PATH', value: '/usr/bin:$PATH  and more', legacy: true }] });
    expect(only('LABEL "com.example.vendor"="ACME Inc" version=1.0')).toMatchObject({
      pairs: [
        { key: '"com.example.vendor"', value: '"ACME Inc"' },
        { key: 'version', value: '1.0' },
      ],
    });
    expect(syntaxError('FROM a\nENV ONE')).toMatchObject({ line: 2, reason: 'ENV must have two arguments' });
  });

  it('COPY and ADD flags, sources and destination', () => {
    expect(only('COPY --chown=1:2 --chmod=644 --from=0 a b* /dst/')).toMatchObject({
      kind: 'COPY',
      chown: '1:2',
      chmod: '644',
      from: '0',
      sources: ['a', 'b*'],
      dest: '/dst/',
      link: false,
      json: false,
    });
    expect(only('ADD ["a b", "/c d"]')).toMatchObject({ kind: 'ADD', sources: ['a b'], dest: '/c d', json: true });
    expect(only('ADD --keep-git-dir=false --checksum=sha256:0 --exclude=*.md --exclude=x u /')).toMatchObject({
      keepGitDir: false,
      checksum: 'sha256:0',
      exclude: ['*.md', 'x'],
    });
    expect(syntaxError('FROM a\nCOPY onlyone')).toMatchObject({
      reason: 'COPY requires at least two arguments, but only one was provided. Destination could not be determined',
    });
    expect(syntaxError('FROM a\nCOPY --fromm=x a b')).toMatchObject({ reason: 'unknown flag: --fromm' });
    expect(syntaxError('FROM a\nCOPY --from a b')).toMatchObject({ reason: 'missing a value on flag: --from' });
    expect(syntaxError('FROM a\nCOPY --from=a --from=b a b')).toMatchObject({ reason: 'duplicate flag specified: --from' });
    expect(syntaxError('FROM a\nCOPY --link=maybe a b')).toMatchObject({ reason: 'expecting boolean value for flag --link, not: maybe' });
  });

  it('flags may be quoted, and `--` ends them', () => {
    expect(only('COPY --chown="a b" x y')).toMatchObject({ chown: 'a b', sources: ['x'] });
    expect(only('COPY "--chown=a b" x y')).toMatchObject({ sources: ['"--chown=a', 'b"', 'x'] });
    expect(only('COPY -- --weird /d')).toMatchObject({ sources: ['--weird'], dest: '/d' });
  });

  it('RUN keeps BuildKit flags for the executor to judge', () => {
    expect(only('RUN --mount=type=cache,target=/c --network=none make')).toMatchObject({
      mounts: ['type=cache,target=/c'],
      network: 'none',
      flagsUsed: ['mount', 'network'],
      command: { form: 'shell', command: 'make' },
    });
  });

  it('FROM: platform, stage names, argument count', () => {
    expect(parseDockerfile('FROM --platform=linux/arm64 busybox as B').stages[0]!.from).toMatchObject({
      platform: 'linux/arm64',
      stageName: 'b',
      image: 'busybox',
    });
    expect(syntaxError('FROM a b')).toMatchObject({ line: 1, reason: 'FROM requires either one or three arguments' });
    expect(syntaxError('FROM a AS 1x').reason).toBe('invalid name for build stage: "1x", name can\'t start with a number or contain symbols');
  });

  it('WORKDIR, USER, STOPSIGNAL, MAINTAINER take the rest of the line', () => {
    expect(only('WORKDIR /a b')).toMatchObject({ kind: 'WORKDIR', path: '/a b' });
    expect(only('USER 1000:1000')).toMatchObject({ kind: 'USER', user: '1000:1000' });
    expect(only('STOPSIGNAL SIGKILL')).toMatchObject({ kind: 'STOPSIGNAL', signal: 'SIGKILL' });
    expect(only('MAINTAINER Jane <j@x>')).toMatchObject({ kind: 'MAINTAINER', maintainer: 'Jane <j@x>' });
    expect(syntaxError('FROM a\nWORKDIR').reason).toBe('WORKDIR requires exactly one argument');
  });

  it('EXPOSE sorted, VOLUME in both forms', () => {
    expect(only('EXPOSE 8080 80/udp 443')).toMatchObject({ ports: ['443', '80/udp', '8080'] });
    expect(only('VOLUME /a /b')).toMatchObject({ volumes: ['/a', '/b'] });
    expect(only('VOLUME ["/a b"]')).toMatchObject({ volumes: ['/a b'] });
    expect(syntaxError('FROM a\nVOLUME [""]').reason).toBe('VOLUME specified can not be an empty string');
  });

  it('ARG with and without defaults', () => {
    expect(only('ARG A B=2 C= "D=x y"')).toMatchObject({
      args: [{ key: 'A' }, { key: 'B', value: '2' }, { key: 'C', value: '' }, { key: '"D', value: 'x y"' }],
    });
    expect(syntaxError('FROM a\nARG =1').reason).toBe('ARG names can not be blank');
  });

  it('SHELL needs JSON', () => {
    expect(only('SHELL ["/bin/bash", "-c"]')).toMatchObject({ shell: ['/bin/bash', '-c'] });
    expect(syntaxError('FROM a\nSHELL /bin/bash -c').reason).toBe('SHELL requires the arguments to be in JSON form');
  });

  it('HEALTHCHECK: NONE, CMD forms and options in nanoseconds', () => {
    expect(only('HEALTHCHECK NONE')).toMatchObject({ health: { test: ['NONE'] } });
    expect(only('HEALTHCHECK --interval=1m30s --timeout=3s --start-period=0s --retries=3 CMD curl -f http://x/ || exit 1')).toMatchObject({
      health: { test: ['CMD-SHELL', 'curl -f http://x/ || exit 1'], interval: 90e9, timeout: 3e9, retries: 3 },
    });
    expect(only('HEALTHCHECK CMD ["true"]')).toMatchObject({ health: { test: ['CMD', 'true'] } });
    expect(syntaxError('FROM a\nHEALTHCHECK NONE x').reason).toBe('HEALTHCHECK NONE takes no arguments');
    expect(syntaxError('FROM a\nHEALTHCHECK FOO x').reason).toBe('Unknown type "FOO" in HEALTHCHECK (try CMD)');
    expect(syntaxError('FROM a\nHEALTHCHECK CMD').reason).toBe('Missing command after HEALTHCHECK CMD');
    expect(syntaxError('FROM a\nHEALTHCHECK --interval=1ns CMD x').reason).toBe('Interval "interval" cannot be less than 1ms');
    expect(syntaxError('FROM a\nHEALTHCHECK --retries=-1 CMD x').reason).toBe('--retries cannot be negative (-1)');
  });

  it('ONBUILD keeps the trigger text and parses it', () => {
    const i = only('ONBUILD   RUN echo "$X"');
    expect(i).toMatchObject({ kind: 'ONBUILD', expression: 'RUN echo "$X"', trigger: { kind: 'RUN', command: { form: 'shell', command: 'echo "$X"' } } });
    expect(syntaxError('FROM a\nONBUILD ONBUILD RUN x').reason).toBe("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    expect(syntaxError('FROM a\nONBUILD FROM x').reason).toBe("FROM isn't allowed as an ONBUILD trigger");
  });
});

describe('parseDockerfile: heredocs', () => {
  it('RUN with a heredoc', () => {
    const df = parseDockerfile('FROM a\nRUN <<EOF\necho one\necho two\nEOF\nCMD x');
    const [run, cmd] = df.stages[0]!.instructions;
    expect(run).toMatchObject({ kind: 'RUN', line: 2, endLine: 5, heredocs: [{ name: 'EOF', content: 'echo one\necho two\n', expand: true, chomp: false }] });
    expect(cmd).toMatchObject({ kind: 'CMD', line: 6 });
  });

  it('COPY heredoc sources: chomped tabs, quoted delimiters are not expanded', () => {
    const i = only('COPY <<-"A" <<B /dst/\n\thello $X\n\tA\nworld\nB');
    expect(i).toMatchObject({
      kind: 'COPY',
      sources: [],
      inline: [
        { path: 'A', data: 'hello $X\n', expand: false },
        { path: 'B', data: 'world\n', expand: true },
      ],
      dest: '/dst/',
    });
  });

  it('an unterminated heredoc is an error; JSON forms have none', () => {
    expect(syntaxError('FROM a\nRUN <<EOF\necho')).toMatchObject({ line: 2, reason: 'unterminated heredoc' });
    expect(only('RUN ["cat", "<<EOF"]')).toMatchObject({ heredocs: [] });
  });
});

describe('parseDockerfile: errors', () => {
  it('unknown instruction, with its line and as written', () => {
    const e = syntaxError('FROM busybox\n\nFOOBAR x');
    expect(e.message).toBe('dockerfile parse error on line 3: unknown instruction: FOOBAR');
    expect(e.line).toBe(3);
  });

  it('no FROM, no instructions', () => {
    expect(syntaxError('RUN x')).toMatchObject({ line: 1, reason: 'no build stage in current context' });
    expect(syntaxError('ARG A\n').reason).toBe('dockerfile contains no stages to build');
    expect(syntaxError('').reason).toBe('file with no instructions');
    expect(syntaxError('# just a comment\n\n').reason).toBe('file with no instructions');
  });

  it('a line over 64 KiB is refused as Docker refuses it', () => {
    expect(syntaxError(`FROM a\nRUN ${'x'.repeat(70000)}\n`)).toMatchObject({ line: 2, reason: 'dockerfile line greater than max allowed size of 65535' });
    expect(parseDockerfile(`FROM a\nRUN ${'x'.repeat(65000)}\n`).stages[0]!.instructions).toHaveLength(1);
  });
});
