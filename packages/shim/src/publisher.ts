import { callMetadata, clientOn, events, unaryCall, unixChannel } from '@gantry/api';
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
    this.client = address ? clientOn(events.EventsClient, unixChannel(address)) : undefined;
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
      // waitForReady: while the daemon restarts, the publish waits for it (up to the deadline)
      const md = callMetadata({ namespace: this.namespace, waitForReady: true });
      const ok = await unaryCall(this.client, this.client.publish, { topic, event }, md, 5000).then(
        () => true,
        (err: Error) => {
          this.onError(`publish ${topic}: ${err.message}`);
          return false;
        },
      );
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
