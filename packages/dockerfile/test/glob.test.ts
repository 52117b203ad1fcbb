import { BadPatternError, cleanPath, matchGlob } from '../src';

describe('matchGlob (Go filepath.Match)', () => {
  it.each([
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abe', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a?b', 'a/b', false],
    ['a[^a]b', 'a/b', true],
    ['*.txt', 'dir/a.txt', false],
    ['*/*.txt', 'dir/a.txt', true],
  ])('%s matches %s: %s', (pattern, name, want) => {
    expect(matchGlob(pattern, name)).toBe(want);
  });

  it.each(['[', '[^', '[]a]', 'a\\', '[a-', '[\\]', 'x[-]'])('refuses %s', (pattern) => {
    expect(() => matchGlob(pattern, 'a')).toThrow(BadPatternError);
  });

  it('a bad pattern after a mismatch is still refused', () => {
    expect(() => matchGlob('a*[', 'b')).toThrow('syntax error in pattern');
  });
});

describe('cleanPath (Go filepath.Clean)', () => {
  it.each([
    ['', '.'],
    ['a/b/../c', 'a/c'],
    ['/../a', '/a'],
    ['../../a', '../../a'],
    ['a//b/./', 'a/b'],
    ['/', '/'],
    ['./', '.'],
  ])('%s -> %s', (p, want) => expect(cleanPath(p)).toBe(want));
});
