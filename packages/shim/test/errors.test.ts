import { status as Code } from '@grpc/grpc-js';
import { ConfigError, ContainerIdError, InitError, StateError } from '@gantry/runtime';
import { errdefs } from '@gantry/linux';
import { runtimeFailure } from '../src/errors';
import { grpcError } from '../src/grpc-service';

describe('runtime failures as gRPC statuses', () => {
  it("keeps the runtime's own message whole at the end, prefixed as containerd's runc shim does", () => {
    const e = runtimeFailure('create', new InitError('unable to apply caps: operation not permitted'));
    expect(grpcError(e)).toEqual({
      code: Code.UNKNOWN,
      details: 'OCI runtime create failed: unable to apply caps: operation not permitted',
      message: 'OCI runtime create failed: unable to apply caps: operation not permitted',
    });
    expect(grpcError(runtimeFailure('exec', new InitError('exec: "nope": executable file not found in $PATH'))).details).toBe(
      'OCI runtime exec failed: exec: "nope": executable file not found in $PATH',
    );
    expect(grpcError(runtimeFailure('start', new InitError('container c could not start: error running hook #0'))).details).toBe(
      'OCI runtime start failed: container c could not start: error running hook #0',
    );
  });

  it("maps the runtime's error kinds to codes: bad config 3, wrong state 9, unknown id 5, the rest UNKNOWN (errdefs.ErrUnknown)", () => {
    expect(grpcError(runtimeFailure('create', new ConfigError('process is required'))).code).toBe(Code.INVALID_ARGUMENT);
    expect(grpcError(runtimeFailure('start', new StateError('cannot start a container that has stopped'))).code).toBe(Code.FAILED_PRECONDITION);
    expect(grpcError(runtimeFailure('start', new ContainerIdError('container x does not exist', 'not-found'))).code).toBe(Code.NOT_FOUND);
    expect(grpcError(runtimeFailure('create', new ContainerIdError('container x already exists', 'already-exists'))).code).toBe(Code.ALREADY_EXISTS);
    expect(grpcError(runtimeFailure('create', new Error('EIO'))).code).toBe(Code.UNKNOWN);
    // the kind travels, not the wording: an id error of no particular kind is an invalid argument
    expect(grpcError(runtimeFailure('start', new ContainerIdError('container x does not exist'))).code).toBe(Code.INVALID_ARGUMENT);
    // the shim's own errors keep their codes
    expect(grpcError(errdefs.failedPrecondition('task t is not in created state')).code).toBe(Code.FAILED_PRECONDITION);
    expect(grpcError(errdefs.notFound('exec e not found'))).toEqual({ code: Code.NOT_FOUND, details: 'exec e not found', message: 'exec e not found' });
  });

  it('makes one line of a message that has several (clients show the status message as one line)', () => {
    expect(runtimeFailure('create', new InitError('error running hook #0 (prestart /x):\n  output line\n')).message).toBe(
      'OCI runtime create failed: error running hook #0 (prestart /x): output line',
    );
  });
});
