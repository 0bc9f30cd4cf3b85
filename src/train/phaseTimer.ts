// Wall-clock split of a training step. The tfjs cpu and wasm backends compute synchronously, so
// the time around a phase's ops is the time of its compute.

export const PHASES = ['encoders', 'codebook', 'club', 'cpc', 'decoders', 'backward', 'optimizer'] as const;
export type Phase = (typeof PHASES)[number];
export type PhaseTimings = Record<Phase, number> & { total: number };

export class PhaseTimer {
  private readonly ms: Record<Phase, number> = Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>;
  private readonly started = performance.now();

  /** Runs fn and adds its duration to `phase`. */
  time<T>(phase: Phase, fn: () => T): T {
    const start = performance.now();
    try {
      return fn();
    } finally {
      this.ms[phase] += performance.now() - start;
    }
  }

  async timeAsync<T>(phase: Phase, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.ms[phase] += performance.now() - start;
    }
  }

  add(phase: Phase, ms: number): void {
    this.ms[phase] += ms;
  }

  /** Forward phases measured so far, for deriving the backward time. */
  sum(phases: readonly Phase[]): number {
    return phases.reduce((s, p) => s + this.ms[p], 0);
  }

  result(): PhaseTimings {
    return { ...this.ms, total: performance.now() - this.started };
  }
}
