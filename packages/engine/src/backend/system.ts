/** What the system routes (routes/system.ts: /info) need from the rest of the engine. Types only. */
export interface SystemBackend {
  /** Container and image counts for /info. */
  counts(): Promise<{ containers: number; running: number; paused: number; stopped: number; images: number }>;
}
