/** What the system routes (routes/system.ts: /info) need from the rest of the engine. Types only. */
export interface EngineCounts {
  containers: number;
  running: number;
  paused: number;
  stopped: number;
  images: number;
}

export interface SystemBackend {
  counts(): Promise<EngineCounts>;
}
