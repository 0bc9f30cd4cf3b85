// The typed result of a downstream task, and its rendering as Markdown tables: one row per encoder
// (Uni-Code, the plain shared-VQ baseline, ...), one column per ordered modality pair X→Y, with the
// labelled-modality upper bound Y→Y marked.

import { type DownstreamTask, TASK_TITLES } from './taskNames.js';

export interface PairResult {
  /** Modality the head was trained on (retrieval: the query modality). */
  train: string;
  /** Modality it was tested on (retrieval: the gallery modality). */
  test: string;
  /** Same modality for training and testing: the labelled-modality upper bound. */
  upperBound: boolean;
  /** Metric name -> value in [0, 1]. */
  metrics: Record<string, number>;
  /** Test samples the metrics were computed on. */
  samples: number;
}

export interface EncoderResult {
  encoder: string;
  pairs: PairResult[];
}

export interface DownstreamReport {
  task: DownstreamTask;
  /** Dataset the heads were trained on, and the one they were tested on (equal unless transfer). */
  trainDataset: string;
  testDataset: string;
  /** Metric names in display order; the first is the headline metric. */
  metrics: string[];
  rows: EncoderResult[];
  /** Hyperparameters and splits used, for the record. */
  settings: Record<string, string | number>;
}

const ARROW = '→';

/** Column label of a pair, e.g. "audio→video" or "video→video (upper bound)". */
export function pairLabel(pair: Pick<PairResult, 'train' | 'test' | 'upperBound'>): string {
  return `${pair.train}${ARROW}${pair.test}${pair.upperBound ? ' (upper bound)' : ''}`;
}

/** Markdown: a heading, then one table per metric with values in percent. */
export function formatReport(report: DownstreamReport): string {
  const dataset =
    report.trainDataset === report.testDataset
      ? report.trainDataset
      : `${report.trainDataset} ${ARROW} ${report.testDataset}`;
  const lines = [`### ${TASK_TITLES[report.task]} on ${dataset}`, ''];
  const settings = Object.entries(report.settings).map(([k, v]) => `${k}=${v}`);
  if (settings.length > 0) lines.push(`settings: ${settings.join(', ')}`, '');
  const columns = report.rows[0]?.pairs.map(pairLabel) ?? [];
  for (const metric of report.metrics) {
    lines.push(`${metric} (%)`, '');
    lines.push(`| encoder | ${columns.join(' | ')} |`);
    lines.push(`|---|${columns.map(() => '---:').join('|')}|`);
    for (const row of report.rows) {
      const cells = row.pairs.map((p) =>
        p.metrics[metric] === undefined ? 'n/a' : (100 * p.metrics[metric]).toFixed(1),
      );
      lines.push(`| ${row.encoder} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
