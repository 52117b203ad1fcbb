import { API_VERSION } from '@gantry/engine-api';
import { buildQuery } from '../src/core';
import { BadRequestError, ConflictError, EngineError, errorFromResponse, NotFoundError, ServerError } from '../src/errors';
import { jsonLines, progressMessages } from '../src/json-lines';
import { FALLBACK_API_VERSION, negotiateVersion } from '../src/negotiate';

describe('negotiateVersion', () => {
  it('takes the lower of the client and the daemon', () => {
    expect(negotiateVersion('1.41', '1.45')).toBe('1.41');
    expect(negotiateVersion('1.47', '1.45')).toBe('1.45');
    expect(negotiateVersion('1.45', '1.45')).toBe('1.45');
    expect(negotiateVersion('1.100', '1.45')).toBe('1.45'); // numeric, not string, order
    expect(negotiateVersion('1.9', '1.45')).toBe('1.9');
  });

  it('falls back to 1.24 when the daemon sends no version', () => {
    expect(negotiateVersion(undefined)).toBe(FALLBACK_API_VERSION);
    expect(negotiateVersion('')).toBe('1.24');
  });

  it('defaults to the API version gantryd serves', () => {
    expect(negotiateVersion('9.0')).toBe(API_VERSION);
  });
});

describe('buildQuery', () => {
  it('encodes booleans, repeated keys, filters and leaves undefined out', () => {
    expect(buildQuery({ all: true, quiet: false, t: ['a:1', 'b'], filters: { label: ['x=y'] }, tail: 5, none: undefined })).toBe(
      '?all=1&quiet=0&t=a%3A1&t=b&filters=%7B%22label%22%3A%5B%22x%3Dy%22%5D%7D&tail=5',
    );
    expect(buildQuery({})).toBe('');
    expect(buildQuery(undefined)).toBe('');
  });
});

describe('errorFromResponse', () => {
  it('types errors by status and keeps the daemon message', () => {
    const e = errorFromResponse(404, Buffer.from('{"message":"No such container: x"}'));
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e).toBeInstanceOf(EngineError);
    expect(e.statusCode).toBe(404);
    expect(e.message).toBe('No such container: x');
    expect(errorFromResponse(409, Buffer.from('{"message":"in use"}'))).toBeInstanceOf(ConflictError);
    expect(errorFromResponse(400, Buffer.from('bad'))).toBeInstanceOf(BadRequestError);
    expect(errorFromResponse(502, Buffer.from(''))).toBeInstanceOf(ServerError);
    expect(errorFromResponse(502, Buffer.from('')).message).toBe('HTTP 502');
  });
});

describe('JSON streams', () => {
  async function* pieces(...p: string[]): AsyncGenerator<Buffer> {
    for (const s of p) yield Buffer.from(s);
  }
  async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
    const out: T[] = [];
    for await (const x of it) out.push(x);
    return out;
  }

  it('splits values at newlines across chunks', async () => {
    expect(await all(jsonLines(pieces('{"a":', '1}\n\n{"a"', ':2}\n{"a":3}')))).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
  });

  it('throws the first error message of a progress stream, after the messages before it', async () => {
    const seen: unknown[] = [];
    const run = async () => {
      for await (const m of progressMessages(
        pieces('{"status":"Pulling"}\n', '{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\n{"status":"x"}\n'),
      ))
        seen.push(m);
    };
    await expect(run()).rejects.toMatchObject({ name: 'ProgressError', message: 'manifest unknown' });
    expect(seen).toEqual([{ status: 'Pulling' }]);
    await expect(all(progressMessages(pieces('{"error":"only the old field"}\n')))).rejects.toThrow('only the old field');
  });
});
