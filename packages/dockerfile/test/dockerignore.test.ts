import { compileDockerignore, DockerignoreError, readDockerignore } from '../src';

describe('readDockerignore', () => {
  it('skips comments and blank lines, trims, cleans and drops a leading /', () => {
    expect(readDockerignore('# comment\n\n  /a/b/../c/  \n!  /d\n ./e//f\n#x\n  #not a comment')).toEqual(['a/c', '!d', 'e/f', '#not a comment']);
  });
});

describe('compileDockerignore: the reference examples', () => {
  it('*/temp*, */*/temp*, temp?', () => {
    const ignored = compileDockerignore('# comment\n*/temp*\n*/*/temp*\ntemp?\n');
    expect(ignored('somedir/temporary.txt')).toBe(true);
    expect(ignored('somedir/temp')).toBe(true);
    expect(ignored('somedir/temp/x')).toBe(true); // a parent directory matches
    expect(ignored('somedir/subdir/temporary.txt')).toBe(true);
    expect(ignored('tempa')).toBe(true);
    expect(ignored('tempb')).toBe(true);
    expect(ignored('temp')).toBe(false);
    expect(ignored('temporary.txt')).toBe(false);
    expect(ignored('a/b/c/temp')).toBe(false);
  });

  it('**/*.go excludes .go files in every directory', () => {
    const ignored = compileDockerignore('**/*.go');
    expect(ignored('main.go')).toBe(true);
    expect(ignored('a/b/c.go')).toBe(true);
    expect(ignored('a/b/c.gox')).toBe(false);
  });

  it('exceptions, and the last matching line wins', () => {
    const a = compileDockerignore('*.md\n!README.md');
    expect(a('CHANGES.md')).toBe(true);
    expect(a('README.md')).toBe(false);

    const b = compileDockerignore('*.md\n!README*.md\nREADME-secret.md');
    expect(b('README-secret.md')).toBe(true);
    expect(b('README-public.md')).toBe(false);
    expect(b('CHANGES.md')).toBe(true);

    const c = compileDockerignore('*.md\nREADME-secret.md\n!README*.md');
    expect(c('README-secret.md')).toBe(false);
    expect(c('README.md')).toBe(false);
    expect(c('other.md')).toBe(true);
  });

  it('a pattern naming a directory excludes what is under it; an exception can take a file back', () => {
    const m = compileDockerignore('node_modules\n.git\nbuild/**\n!build/keep.txt');
    expect(m('node_modules')).toBe(true);
    expect(m('node_modules/x/y.js')).toBe(true);
    expect(m('.git/HEAD')).toBe(true);
    expect(m('build/out.o')).toBe(true);
    expect(m('build/keep.txt')).toBe(false);
    expect(m('src/node_modules_helper.js')).toBe(false);
  });

  it('tells whether an excluded directory must be walked for an exception below it', () => {
    const m = compileDockerignore('build\n!build/keep/*.txt');
    expect(m('build')).toBe(true);
    expect(m.mustWalk('build')).toBe(true);
    expect(m.mustWalk('build/keep')).toBe(true);
    expect(m.mustWalk('other')).toBe(false);
    expect(compileDockerignore('build').mustWalk('build')).toBe(false);
  });

  it('refuses `!` alone and malformed patterns', () => {
    expect(() => compileDockerignore('!')).toThrow(new DockerignoreError('illegal exclusion pattern: "!"'));
    expect(() => compileDockerignore('a[')).toThrow(DockerignoreError);
    // filepath.Match accepts an inverted range; the expression Docker builds from it does not compile
    expect(() => compileDockerignore('[Local-Only]/')).toThrow('syntax error in pattern');
  });

  it('escapes, brackets and regexp characters', () => {
    expect(compileDockerignore('a\\*b')('a*b')).toBe(true);
    expect(compileDockerignore('a\\*b')('axb')).toBe(false);
    expect(compileDockerignore('a[b-d]e')('ace')).toBe(true);
    expect(compileDockerignore('a[^b-d]e')('ace')).toBe(false);
    expect(compileDockerignore('a.|)$(}+{bc')('a.|)$(}+{bc')).toBe(true);
    expect(compileDockerignore('.*')('.env')).toBe(true);
    expect(compileDockerignore('.*')('env')).toBe(false);
  });

  it('an empty file excludes nothing', () => {
    expect(compileDockerignore('')('anything')).toBe(false);
    expect(compileDockerignore('').patterns).toEqual([]);
  });
});
