import { colourFor } from '../src/engine/logs';

describe('colourFor (compose logs prefixes)', () => {
  it('colours only a terminal', () => {
    expect(colourFor(true, {})).toBe(true);
    expect(colourFor(false, {})).toBe(false);
    expect(colourFor(undefined, {})).toBe(false);
  });
  it('never with NO_COLOR set to something', () => {
    expect(colourFor(true, { NO_COLOR: '1' })).toBe(false);
    expect(colourFor(true, { NO_COLOR: '' })).toBe(true);
  });
});
