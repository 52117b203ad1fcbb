import { dependencyOrder, serviceHash, type ServiceConfig } from '../src';

describe('config hash', () => {
  const base: ServiceConfig = { image: 'busybox', environment: { A: '1', B: '2' }, command: ['sleep', '1'] };

  test('stable across key order, a sha256 hex digest', () => {
    const h = serviceHash(base);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(serviceHash({ command: ['sleep', '1'], environment: { B: '2', A: '1' }, image: 'busybox' })).toBe(h);
  });

  test('changes with what needs a new container, not with build, scale, replicas, depends_on or profiles', () => {
    const h = serviceHash(base);
    expect(serviceHash({ ...base, environment: { A: '1', B: '3' } })).not.toBe(h);
    expect(serviceHash({ ...base, command: ['sleep', '2'] })).not.toBe(h);
    expect(serviceHash({ ...base, deploy: { resources: { limits: { memory: 1 } } } })).not.toBe(serviceHash({ ...base, deploy: {} }));
    expect(
      serviceHash({
        ...base,
        build: { context: '/x' },
        scale: 3,
        deploy: { replicas: 3 },
        depends_on: { db: { condition: 'service_started' } },
        profiles: ['p'],
      }),
    ).toBe(serviceHash({ ...base, deploy: {} }));
  });
});

describe('depends_on order', () => {
  test('each service after its dependencies; a cycle names its path', () => {
    const order = dependencyOrder({
      web: { depends_on: { api: { condition: 'service_started' } } },
      api: { depends_on: { db: { condition: 'service_healthy' } } },
      db: {},
    });
    expect(order).toEqual(['db', 'api', 'web']);
    expect(() =>
      dependencyOrder({ a: { depends_on: { b: { condition: 'service_started' } } }, b: { depends_on: { a: { condition: 'service_started' } } } }),
    ).toThrow('dependency cycle detected: a -> b -> a');
  });
});
