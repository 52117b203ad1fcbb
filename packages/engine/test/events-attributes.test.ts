import { EngineEvents } from '../src/events';

describe('event attributes', () => {
  it('are encoded with their keys sorted, as dockerd encodes a Go map', () => {
    const e = new EngineEvents().emit('network', 'connect', 'n1', { name: 'net', type: 'bridge', container: 'c1' });
    expect(JSON.stringify(e.Actor.Attributes)).toBe('{"container":"c1","name":"net","type":"bridge"}');
  });
});
