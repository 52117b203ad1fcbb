import { isDockerSignal } from '../src/signals';

describe('isDockerSignal', () => {
  it.each(['SIGTERM', 'term', 'Kill', '9', '-1', 'RTMIN', 'SIGRTMIN+3', 'rtmax-14', 'SIGWINCH'])('accepts %s', (s) => {
    expect(isDockerSignal(s)).toBe(true);
  });
  it.each(['0', '', 'SIG', 'SIGFOO', 'RTMIN+16', 'RTMAX-15', 'SIGSIGTERM', '1.5'])('refuses %s', (s) => {
    expect(isDockerSignal(s)).toBe(false);
  });
});
