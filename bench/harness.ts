// A small layer over benny for comparing backends: each (case, backend) runs as its own benny
// suite (benny prepares all cases of a suite at once, which would mix tfjs backends), results
// land in a ledger, and the ledger prints ops/s and ratios between backends of the same run.
//
// Heavy cases get one benny sample: benchmark.js runs them twice (a warm-up and the sample). benny
// also calls every case once to see whether it is async; measure() answers that probe without
// running the op, so big cases do not pay a third time. A case whose predicted cost
// (from the throughput of a smaller case of the same op on the same backend, measured earlier in
// the run) exceeds the budget is skipped and the reason printed.
import b from 'benny';

/** Per (case, backend) time budget in seconds; UCMG_BENCH_MAX_CASE_S overrides. */
export const CASE_BUDGET_S = Number(process.env.UCMG_BENCH_MAX_CASE_S ?? 150);
/** A call predicted to take longer than this gets a single sample. */
const HEAVY_CALL_S = 2;
/** Calls a heavy case costs: benchmark.js's warm-up run and one sample. */
const HEAVY_CALLS = 2;

export interface Measurement {
  opsPerSecond: number;
  secondsPerCall: number;
  samples: number;
  margin: number;
}
export type Outcome = Measurement | { skipped: string };

export interface CaseSpec {
  name: string;
  /** Cases of one family share a throughput estimate (flops per second). */
  family: string;
  flops: number;
  /** A fixed reason to skip on a backend (memory limits), checked before any prediction. */
  skipReason?: (backend: string) => string | undefined;
  /** Never skipped for predicted time (a speed target depends on it). */
  required?: boolean;
}

export class Ledger {
  private readonly outcomes = new Map<string, Map<string, Outcome>>();
  private readonly throughput = new Map<string, number>();

  /** Why this case must be skipped on this backend, judged from earlier measurements. */
  predictSkip(spec: CaseSpec, backend: string): string | undefined {
    const fixed = spec.skipReason?.(backend);
    if (fixed !== undefined) return fixed;
    const rate = this.throughput.get(`${spec.family}|${backend}`);
    if (rate === undefined || spec.required) return undefined;
    const seconds = spec.flops / rate;
    if (seconds * HEAVY_CALLS > CASE_BUDGET_S) {
      return (
        `predicted ${seconds.toFixed(0)} s per call (${(rate / 1e9).toFixed(2)} GFLOP/s measured on a smaller ${spec.family}), ` +
        `over the ${CASE_BUDGET_S} s budget per case (UCMG_BENCH_MAX_CASE_S)`
      );
    }
    return undefined;
  }

  predictedSeconds(spec: CaseSpec, backend: string): number | undefined {
    const rate = this.throughput.get(`${spec.family}|${backend}`);
    return rate === undefined ? undefined : spec.flops / rate;
  }

  record(spec: CaseSpec, backend: string, outcome: Outcome): void {
    if (!this.outcomes.has(spec.name)) this.outcomes.set(spec.name, new Map());
    this.outcomes.get(spec.name)!.set(backend, outcome);
    if ('opsPerSecond' in outcome && spec.flops > 0) {
      const key = `${spec.family}|${backend}`;
      this.throughput.set(key, Math.max(this.throughput.get(key) ?? 0, spec.flops * outcome.opsPerSecond));
    }
  }

  get(caseName: string, backend: string): Outcome | undefined {
    return this.outcomes.get(caseName)?.get(backend);
  }

  /** ops/s of every backend per case, and each backend's speed relative to each reference backend. */
  print(references: string[]): void {
    for (const [caseName, byBackend] of this.outcomes) {
      console.log(`\n${caseName}`);
      for (const [backend, outcome] of byBackend) {
        if ('skipped' in outcome) {
          console.log(`  ${backend.padEnd(12)} skipped: ${outcome.skipped}`);
          continue;
        }
        const ratios = references
          .filter((ref) => ref !== backend)
          .map((ref) => {
            const other = byBackend.get(ref);
            return other !== undefined && 'opsPerSecond' in other
              ? `${(outcome.opsPerSecond / other.opsPerSecond).toFixed(2)}x ${ref}`
              : undefined;
          })
          .filter((x) => x !== undefined);
        console.log(
          `  ${backend.padEnd(12)} ${formatRate(outcome.opsPerSecond).padStart(12)} ops/s  ` +
            `${formatSeconds(outcome.secondsPerCall).padStart(9)}/call  ±${outcome.margin.toFixed(1)}%  n=${outcome.samples}` +
            (ratios.length > 0 ? `  = ${ratios.join(', ')}` : ''),
        );
      }
    }
  }
}

function formatRate(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

function formatSeconds(s: number): string {
  return s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1e3).toFixed(2)} ms`;
}

/**
 * Runs `body` under benny as one suite and returns its measurement. Without a prediction, one
 * untimed call first warms up and tells whether the case is heavy.
 */
export async function measure(
  title: string,
  body: () => void,
  predictedSeconds: number | undefined,
): Promise<Measurement> {
  let expected = predictedSeconds;
  if (expected === undefined) {
    const started = performance.now();
    body();
    expected = (performance.now() - started) / 1000;
  }
  const options = expected > HEAVY_CALL_S ? { minSamples: 1, maxTime: 0 } : { minSamples: 5, maxTime: 3 };
  let probed = false;
  const timed = () => {
    if (!probed) {
      probed = true;
      return;
    } // benny's type probe: synchronous, nothing to run
    body();
  };
  // Slow cases run well under 1 op/s: keep digits that benny would round away.
  const summary = await b.suite(
    title,
    b.configure({ minDisplayPrecision: 4 }),
    b.add(title, timed, options),
    b.cycle(),
  );
  const result = summary.results[0];
  return {
    opsPerSecond: 1 / result.details.mean,
    secondsPerCall: result.details.mean,
    samples: result.samples,
    margin: result.margin,
  };
}
