import { errdefs, KindError } from '../src';

const grpcFailure = (code: number, details: string) => Object.assign(new Error(`${code} X: ${details}`), { code, details });

describe('errdefs kinds', () => {
  it('carries its kind, and kindOf reads it, or the kind of a failed gRPC call, or unknown', () => {
    expect(errdefs.notFound('no such thing')).toMatchObject({ kind: 'not-found', message: 'no such thing' });
    expect(errdefs.kindOf(errdefs.conflict('x'))).toBe('conflict');
    expect(errdefs.kindOf(grpcFailure(errdefs.GRPC_CODE.ALREADY_EXISTS, 'x'))).toBe('already-exists');
    expect(errdefs.kindOf(new Error('plain'))).toBe('unknown');
    expect(errdefs.kindOf(Object.assign(new Error('fs'), { code: 'ENOENT' }))).toBe('unknown');
    // a kind field of another vocabulary is not a kind
    expect(errdefs.kindOf(Object.assign(new Error('r'), { kind: 'not-found' }))).toBe('unknown');
    expect(errdefs.kindOf(undefined)).toBe('unknown');
  });

  it('is inherited by typed errors of other packages', () => {
    class StoreError extends KindError {
      constructor(message: string) {
        super('failed-precondition', message);
      }
    }
    const e = new StoreError('busy');
    expect(e).toBeInstanceOf(Error);
    expect(errdefs.isFailedPrecondition(e)).toBe(true);
    expect(errdefs.grpcStatusOf(e)).toEqual({ code: errdefs.GRPC_CODE.FAILED_PRECONDITION, details: 'busy' });
  });
});

describe('errdefs and gRPC', () => {
  it('maps every kind to a code, and every code back to a kind of the same code', () => {
    for (const kind of errdefs.ERROR_KINDS) {
      const code = errdefs.grpcCodeOf(kind);
      expect(errdefs.grpcCodeOf(errdefs.kindOfGrpcCode(code))).toBe(code);
    }
    for (const code of Object.values(errdefs.GRPC_CODE)) {
      if (code !== errdefs.GRPC_CODE.OK) expect(errdefs.grpcCodeOf(errdefs.kindOfGrpcCode(code))).toBe(code);
    }
    // as containerd: conflicts and "not modified" travel as FAILED_PRECONDITION
    expect(errdefs.grpcCodeOf('conflict')).toBe(errdefs.GRPC_CODE.FAILED_PRECONDITION);
    expect(errdefs.grpcCodeOf('not-modified')).toBe(errdefs.GRPC_CODE.FAILED_PRECONDITION);
    expect(errdefs.kindOfGrpcCode(99)).toBe('unknown');
  });

  it('answers a kind with its code, passes a callee status on, and anything else is UNKNOWN', () => {
    expect(errdefs.grpcStatusOf(errdefs.invalidArgument('bad'))).toEqual({ code: 3, details: 'bad' });
    expect(errdefs.grpcStatusOf(grpcFailure(5, 'task t not found'))).toEqual({ code: 5, details: 'task t not found' });
    expect(errdefs.grpcStatusOf(new Error('EIO'))).toEqual({ code: 2, details: 'EIO' });
    expect(errdefs.grpcStatusOf('text')).toEqual({ code: 2, details: 'text' });
  });

  it('turns a failed call into a kind with the server text, optionally prefixed as containerd wraps', () => {
    const shim = grpcFailure(6, 'task t already exists');
    expect(errdefs.fromGrpc(shim)).toMatchObject({ kind: 'already-exists', message: 'task t already exists' });
    expect(errdefs.fromGrpc(shim).cause).toBe(shim);
    expect(errdefs.fromGrpc(shim, 'failed to create shim task')).toMatchObject({
      kind: 'already-exists',
      message: 'failed to create shim task: task t already exists',
    });
    const mine = errdefs.conflict('in use');
    expect(errdefs.fromGrpc(mine)).toBe(mine);
    expect(errdefs.fromGrpc(mine, 'remove')).toMatchObject({ kind: 'conflict', message: 'remove: in use' });
    expect(errdefs.fromGrpc(new Error('EIO'), 'p')).toMatchObject({ kind: 'unknown', message: 'p: EIO' });
    // grpc-js puts the server's text in details; without it, the message
    expect(errdefs.fromGrpc(Object.assign(new Error('14 UNAVAILABLE: no connection'), { code: 14 }))).toMatchObject({
      kind: 'unavailable',
      message: '14 UNAVAILABLE: no connection',
    });
  });
});
