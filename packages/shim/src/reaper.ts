import * as fs from 'node:fs';
import type { Sys } from '@gantry/linux';

function zombieChildren(): number[] {
  const self = String(process.pid);
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && fields[1] === self) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * As a child subreaper the shim inherits orphans (what is left when a container's pid 1 dies, or
 * daemonised processes of a container without a pid namespace). libuv reaps the children it
 * spawned as soon as SIGCHLD arrives, and the runtime those it exec'd; a zombie child still there
 * one scan later, and awaited by neither, is an orphan, and this reaps it by pid.
 */
export class StrayReaper {
  private seen = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  reaped = 0;

  constructor(
    private readonly sys: Sys,
    private readonly intervalMs = 1000,
    /** Pids someone else waits for (exec'd programs the runtime reaps for their exit status). */
    private readonly awaited: (pid: number) => boolean = () => false,
  ) {}

  scan(): void {
    const now = zombieChildren().filter((pid) => !this.awaited(pid));
    for (const pid of now) {
      if (!this.seen.has(pid)) continue;
      try {
        if (this.sys.reap(pid) !== undefined) this.reaped++;
      } catch {
        // reaped meanwhile
      }
    }
    this.seen = new Set(now);
  }

  start(): void {
    this.timer = setInterval(() => this.scan(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
