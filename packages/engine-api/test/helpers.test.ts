import { API_VERSION, compareApiVersions, messageError, MIN_API_VERSION, withDefaults } from '../src';

describe('compareApiVersions', () => {
  it('orders major.minor numerically', () => {
    expect(compareApiVersions('1.9', '1.10')).toBeLessThan(0);
    expect(compareApiVersions('1.45', '1.45')).toBe(0);
    expect(compareApiVersions('2.0', '1.99')).toBeGreaterThan(0);
    expect(compareApiVersions(MIN_API_VERSION, API_VERSION)).toBeLessThan(0);
  });
});

describe('messageError', () => {
  it('prefers errorDetail, falls back to error, and is undefined for progress', () => {
    expect(messageError({ errorDetail: { message: 'a', code: 1 }, error: 'b' })).toEqual({ message: 'a', code: 1 });
    expect(messageError({ error: 'b' })).toEqual({ message: 'b' });
    expect(messageError({ status: 'Downloading', progressDetail: { current: 1, total: 2 } })).toBeUndefined();
  });
});

describe('withDefaults', () => {
  it('fills missing keys recursively and keeps what the value holds, null included', () => {
    expect(withDefaults({ A: null, B: { x: 1 } }, { A: 1, B: { x: 0, y: 2 }, C: [] })).toEqual({ A: null, B: { x: 1, y: 2 }, C: [] });
  });
});
