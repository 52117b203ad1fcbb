import { expandInstruction, expandWord, expandWords, isExpanded, parseDockerfile, ShellExpansionError, type Instruction } from '../src';

function instr(line: string, escape = ''): Instruction {
  return parseDockerfile(`${escape}FROM scratch\n${line}`).stages[0]!.instructions[0]!;
}

describe('expandWord', () => {
  const env = new Map([
    ['FOO', '/bar'],
    ['EMPTY', ''],
    ['SP', 'a  b'],
  ]);

  it('the Dockerfile reference examples', () => {
    // WORKDIR ${FOO} -> /bar; ADD . $FOO -> /bar; COPY \$FOO /quux -> $FOO
    expect(expandWord('${FOO}', env)).toBe('/bar');
    expect(expandWord('$FOO', env)).toBe('/bar');
    expect(expandWord('\\$FOO', env)).toBe('$FOO');
    // ${variable:-word}, ${variable:+word}
    expect(expandWord('${UNSET:-word}', env)).toBe('word');
    expect(expandWord('${FOO:-word}', env)).toBe('/bar');
    expect(expandWord('${FOO:+word}', env)).toBe('word');
    expect(expandWord('${UNSET:+word}', env)).toBe('');
  });

  it('`-`/`+` without the colon treat an empty value as set', () => {
    expect(expandWord('${EMPTY-d}', env)).toBe('');
    expect(expandWord('${EMPTY:-d}', env)).toBe('d');
    expect(expandWord('${EMPTY+a}', env)).toBe('a');
    expect(expandWord('${EMPTY:+a}', env)).toBe('');
  });

  it('`?` refuses unset (and with the colon, empty) variables', () => {
    expect(() => expandWord('${UNSET?must be set}', env)).toThrow(new ShellExpansionError('${UNSET?must be set}', 'UNSET: must be set'));
    expect(() => expandWord('${EMPTY:?}', env)).toThrow('EMPTY: is not allowed to be empty');
    expect(expandWord('${EMPTY?}', env)).toBe('');
  });

  it('prefix/suffix removal and replacement', () => {
    const e = { P: 'a/b/c.tar.gz' };
    expect(expandWord('${P#*/}', e)).toBe('b/c.tar.gz');
    expect(expandWord('${P##*/}', e)).toBe('c.tar.gz');
    expect(expandWord('${P%.*}', e)).toBe('a/b/c.tar');
    expect(expandWord('${P%%.*}', e)).toBe('a/b/c');
    expect(expandWord('${P/\\//-}', e)).toBe('a-b/c.tar.gz');
    expect(expandWord('${P//\\//-}', e)).toBe('a-b-c.tar.gz');
  });

  it('quotes: single quotes are literal, double quotes expand, both are removed', () => {
    expect(expandWord("'$FOO'", env)).toBe('$FOO');
    expect(expandWord('"$FOO x"', env)).toBe('/bar x');
    expect(expandWord('"a\\"b"', env)).toBe('a"b');
    expect(expandWord('a\\ b', env)).toBe('a b');
    expect(expandWord('he\\\\$FOO', env)).toBe('he\\/bar');
  });

  it('unset variables expand to nothing; `$` alone stays', () => {
    expect(expandWord('x${NOPE}y$NOPE', env)).toBe('xy');
    expect(expandWord('cost: $ 5', env)).toBe('cost: $ 5');
  });

  it('the escape character follows `# escape=`', () => {
    expect(expandWord('`$FOO', env, '`')).toBe('$FOO');
    expect(expandWord('c:\\$FOO', env, '`')).toBe('c:\\/bar');
  });

  it('syntax errors in Docker words', () => {
    expect(() => expandWord('${FOO', env)).toThrow(ShellExpansionError);
    expect(() => expandWord('${}', env)).toThrow('bad substitution');
    expect(() => expandWord('${FOO:-x', env)).toThrow("syntax error: missing '}'");
    expect(() => expandWord('"open', env)).toThrow('unexpected end of statement while looking for matching double-quote');
    expect(() => expandWord('${FOO:#x}', env)).toThrow('unsupported modifier (:#) in substitution');
  });

  it('a record works as the environment too', () => {
    expect(expandWord('$A$B', { A: '1', B: '2' })).toBe('12');
    expect(expandWord('$toString', {})).toBe('');
  });
});

describe('expandWords', () => {
  it('splits on unquoted white space, values included', () => {
    expect(expandWords('80 $SP "x y"', { SP: '443  8443' })).toEqual(['80', '443', '8443', 'x y']);
  });
});

describe('expandInstruction', () => {
  const env = { abc: 'hello', P: '8080', D: '/data' };

  it('ENV: the documented `ENV abc=bye def=$abc` reads the value before the instruction', () => {
    expect(expandInstruction(instr('ENV abc=bye def=$abc'), env)).toMatchObject({
      pairs: [
        { key: 'abc', value: 'bye' },
        { key: 'def', value: 'hello' },
      ],
    });
    expect(expandInstruction(instr('LABEL "a b"="c $abc"'), env)).toMatchObject({ pairs: [{ key: 'a b', value: 'c hello' }] });
  });

  it('COPY paths and flags; heredoc bodies only when their delimiter is unquoted', () => {
    const c = expandInstruction(instr('COPY --chown=$abc a$P $D/\n'), env);
    expect(c).toMatchObject({ chown: 'hello', sources: ['a8080'], dest: '/data/' });
    const h = expandInstruction(instr('COPY <<A <<"B" /x\n"$abc"\nA\n$abc\nB'), env);
    expect(h).toMatchObject({ inline: [{ data: '"hello"\n' }, { data: '$abc\n' }] });
  });

  it('EXPOSE may turn one word into several ports', () => {
    expect(expandInstruction(instr('EXPOSE $PORTS'), { PORTS: '80 443/udp' })).toMatchObject({ ports: ['80', '443/udp'] });
  });

  it('RUN, CMD, ENTRYPOINT, HEALTHCHECK are left to the shell', () => {
    for (const line of ['RUN echo $abc', 'CMD echo $abc', 'ENTRYPOINT echo $abc', 'HEALTHCHECK CMD echo $abc', 'ONBUILD RUN echo $abc']) {
      const i = instr(line);
      expect(isExpanded(i.kind)).toBe(false);
      expect(expandInstruction(i, env)).toEqual(i);
    }
    expect(isExpanded('WORKDIR')).toBe(true);
    expect(expandInstruction(instr('WORKDIR $D/x'), env)).toMatchObject({ path: '/data/x' });
    expect(expandInstruction(instr('USER ${U:-nobody}'), env)).toMatchObject({ user: 'nobody' });
  });
});
