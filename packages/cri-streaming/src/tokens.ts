/**
 * One-time tokens for streaming URLs, as kubelet's request cache: random, single use, expiring,
 * bounded in number (a full cache refuses new requests until some expire).
 */
import { randomBytes } from 'node:crypto';
import { errdefs } from '@gantry/linux';

export class TokenCache<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxInFlight: number,
    private readonly now: () => number = Date.now,
  ) {}

  insert(value: T): string {
    this.prune();
    if (this.entries.size >= this.maxInFlight) throw errdefs.resourceExhausted(`maximum number of in-flight streaming requests (${this.maxInFlight}) reached`);
    let token: string;
    do token = randomBytes(8).toString('base64url');
    while (this.entries.has(token));
    this.entries.set(token, { value, expires: this.now() + this.ttlMs });
    return token;
  }

  /** The request a token stands for, once; undefined when unknown, used or expired. */
  consume(token: string): T | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    this.entries.delete(token);
    return e.expires > this.now() ? e.value : undefined;
  }

  get size(): number {
    this.prune();
    return this.entries.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expires <= now) this.entries.delete(k);
  }
}
