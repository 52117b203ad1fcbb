import { familiarReference, normalizeReference, parseReference, InvalidReferenceError } from '../src/reference';
import { parsePlatform, platformMatches } from '../src/platform';

describe('image references, normalised as Docker does', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['user/app', 'docker.io/user/app:latest'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['localhost/x:v1', 'localhost/x:v1'],
    ['127.0.0.1:5000/a/b/c:t', '127.0.0.1:5000/a/b/c:t'],
    [`busybox@sha256:${'a'.repeat(64)}`, `docker.io/library/busybox@sha256:${'a'.repeat(64)}`],
    [`busybox:1@sha256:${'b'.repeat(64)}`, `docker.io/library/busybox:1@sha256:${'b'.repeat(64)}`],
  ])('%s → %s', (input, full) => {
    expect(normalizeReference(input)).toBe(full);
  });

  it('shows the familiar form', () => {
    expect(familiarReference('docker.io/library/busybox:latest')).toBe('busybox:latest');
    expect(familiarReference('localhost:5000/x:latest')).toBe('localhost:5000/x:latest');
  });

  it.each(['', 'UPPER', 'a//b', 'busybox:', 'busybox:bad tag', 'busybox@sha256:short', '-lead', 'a/B', `x:${'t'.repeat(129)}`])('refuses %j', (bad) => {
    expect(() => parseReference(bad)).toThrow(InvalidReferenceError);
  });
});

describe('platforms', () => {
  it('parses and matches', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(platformMatches({ os: 'linux', architecture: 'arm64' }, parsePlatform('linux/arm64/v8'))).toBe(true);
    expect(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, parsePlatform('linux/arm/v6'))).toBe(false);
    expect(platformMatches({ os: 'windows', architecture: 'amd64' }, parsePlatform('linux/amd64'))).toBe(false);
    expect(() => parsePlatform('linux')).toThrow(/invalid platform/);
  });
});

describe("Docker's reference error messages", () => {
  it.each([
    ['UPPER', 'invalid reference format: repository name (library/UPPER) must be lowercase'],
    ['a/B:t', 'invalid reference format: repository name (a/B) must be lowercase'],
    ['localhost:5000/Ab', 'invalid reference format: repository name (Ab) must be lowercase'],
    ['busybox:bad tag', 'invalid reference format'],
    ['a//b', 'invalid reference format'],
    ['busybox@sha256:short', 'invalid reference format'],
  ])('%j → %s', (input, message) => {
    expect(() => parseReference(input)).toThrow(new InvalidReferenceError(message));
  });

  it('keeps hosts with ports apart from tags', () => {
    expect(parseReference('localhost:5000/x')).toEqual({ domain: 'localhost:5000', path: 'x', tag: 'latest' });
    expect(parseReference('[::1]:5000/x:v')).toEqual({ domain: '[::1]:5000', path: 'x', tag: 'v' });
    expect(parseReference('registry.example.com/a/b@sha256:' + 'c'.repeat(64))).toEqual({
      domain: 'registry.example.com',
      path: 'a/b',
      digest: 'sha256:' + 'c'.repeat(64),
    });
  });
});
