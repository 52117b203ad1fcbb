import { credentials } from '@grpc/grpc-js';
import { events, namespaceMetadata } from '@gantry/api';
import { encodeEvent } from './event-codec';
import type { ShimEvent } from './task-service';

/**
 * Sends the shim's events to the daemon's Events.Publish, in order. While the daemon is away (a
 * restart), events wait in a queue and are retried, so an exit is never lost to a daemon restart.
 */
export class Publisher {
  private readonly queue: ShimEvent[] = [];
  private sending = false;
  private readonly client: events.EventsClient | undefined;

  constructor(
    address: string | undefined,
    private readonly namespace: string,
    private readonly onError: (msg: string) => void = () => undefined,
  ) {
    this.client = address ? new events.EventsClient(`unix://${address}`, credentials.createInsecure()) : undefined;
  }

  publish(e: ShimEvent): void {
    if (!this.client) return;
    this.queue.push(e);
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.sending || !this.client) return;
    this.sending = true;
    let delay = 100;
    while (this.queue.length > 0) {
      const e = this.queue[0]!;
      const { topic, event } = encodeEvent(e);
      const ok = await new Promise<boolean>((resolve) => {
        this.client!.publish({ topic, event }, namespaceMetadata(this.namespace), { deadline: Date.now() + 5000 }, (err) => {
          if (err) this.onError(`publish ${topic}: ${err.message}`);
          resolve(!err);
        });
      });
      if (ok) {
        this.queue.shift();
        delay = 100;
      } else {
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
    this.sending = false;
  }

  /** Resolves once everything queued was delivered (or `timeoutMs` passed). */
  async drain(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.queue.length > 0 || this.sending) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  close(): void {
    this.client?.close();
  }
}
