import { errdefs, KindError } from '@gantry/linux';
import { HttpError, httpStatusOf, toHttpError } from '../src/http/errors';

describe('errdefs kinds as HTTP answers (the router edge)', () => {
  it("gives each kind Docker's status", () => {
    const statuses = Object.fromEntries(errdefs.ERROR_KINDS.map((k) => [k, httpStatusOf(k)]));
    expect(statuses).toMatchObject({
      'invalid-argument': 400,
      'out-of-range': 400,
      'not-found': 404,
      'already-exists': 409,
      conflict: 409,
      'failed-precondition': 409,
      aborted: 409,
      'not-modified': 304,
      'permission-denied': 403,
      unimplemented: 501,
      unavailable: 503,
      internal: 500,
      unknown: 500,
    });
  });

  it("maps containerd's gRPC codes as before: through fromGrpc to the same status", () => {
    const call = (code: number) => Object.assign(new Error('x'), { code, details: 'd' });
    const expected: Record<number, number> = {
      3: 400,
      11: 400,
      5: 404,
      6: 409,
      9: 409,
      10: 409,
      12: 501,
      14: 503,
      2: 500,
      13: 500,
      7: 403,
      16: 500,
      8: 500,
      1: 500,
      4: 500,
      15: 500,
    };
    for (const [code, status] of Object.entries(expected)) expect([code, toHttpError(errdefs.fromGrpc(call(Number(code)))).status]).toEqual([code, status]);
  });

  it('keeps the message, on one line; anything not of a kind is a 500; an HttpError passes', () => {
    expect(toHttpError(errdefs.conflict('name "a\nb" in use'))).toMatchObject({ status: 409, message: 'name "a\\nb" in use' });
    expect(toHttpError(new Error('boom\r'))).toMatchObject({ status: 500, message: 'boom\\r' });
    expect(toHttpError(new KindError('not-modified', ''))).toMatchObject({ status: 304, message: '' });
    const own = new HttpError(405, 'method GET not allowed');
    expect(toHttpError(own)).toBe(own);
  });
});
