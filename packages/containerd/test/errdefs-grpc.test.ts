import { status } from '@grpc/grpc-js';
import { errdefs } from '@gantry/linux';
import { toServiceError, wrapError } from '../src/errors';

describe('errdefs codes are grpc-js codes', () => {
  it('has the numbers of grpc-js status enum', () => {
    for (const [name, code] of Object.entries(errdefs.GRPC_CODE)) expect(status[name as keyof typeof status]).toBe(code);
  });

  it('answers a handler error with its status, and wraps a shim status keeping its code', () => {
    expect(toServiceError(errdefs.notFound('container c not found'))).toEqual({
      code: status.NOT_FOUND,
      message: 'container c not found',
      details: 'container c not found',
    });
    const fromShim = Object.assign(new Error('9 FAILED_PRECONDITION: not created'), { code: status.FAILED_PRECONDITION, details: 'not created' });
    expect(toServiceError(wrapError(fromShim, 'failed to start shim task'))).toEqual({
      code: status.FAILED_PRECONDITION,
      message: 'failed to start shim task: not created',
      details: 'failed to start shim task: not created',
    });
  });
});
