// Writing a run's report files (JSON, Markdown, SVG plots) into its output directory, each one
// atomically, and turning downstream results into terminal tables and heatmap cells.

import * as path from 'node:path';
import type { DownstreamReport } from '../downstream/report.js';
import { TASK_TITLES } from '../downstream/taskNames.js';
import { writeFileAtomic } from '../util/atomicWrite.js';
import type { CrossModalCell } from './plots.js';
import { formatTable, percent } from './table.js';

/** Collects the files written into one directory, so the run can list them at the end. */
export class ReportWriter {
  readonly dir: string;
  readonly files: string[] = [];

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Writes `name` (relative to the directory) and returns its path. */
  text(name: string, content: string): string {
    const file = path.join(this.dir, name);
    writeFileAtomic(file, content);
    this.files.push(file);
    return file;
  }

  json(name: string, value: unknown): string {
    return this.text(name, `${JSON.stringify(value, null, 2)}\n`);
  }

  async svg(name: string, render: Promise<string>): Promise<string> {
    return this.text(name, await render);
  }
}

const ARROW = '->';

/** The metrics worth a column: the headline, plus F1 for localization (the paper reports both). */
function shownMetrics(report: DownstreamReport): string[] {
  return report.task === 'localize' ? ['precision', 'f1'] : report.metrics.slice(0, report.task === 'retrieve' ? 3 : 1);
}

/**
 * One table per task: a row per ordered pair X->Y (upper bounds last, marked), a column per
 * (encoder, metric), values in percent.
 */
export function formatDownstreamTable(report: DownstreamReport): string {
  const metrics = shownMetrics(report);
  const encoders = report.rows.map((r) => r.encoder);
  const header = [
    'pair (train -> test)',
    ...encoders.flatMap((e) => metrics.map((m) => (metrics.length > 1 ? `${e} ${m}` : e))),
  ];
  const pairs = report.rows[0]?.pairs ?? [];
  const rows = pairs.map((pair, i) => [
    `${pair.train} ${ARROW} ${pair.test}${pair.upperBound ? ' (upper bound)' : ''}`,
    ...report.rows.flatMap((row) => metrics.map((m) => percent(row.pairs[i]?.metrics[m]))),
  ]);
  const dataset =
    report.trainDataset === report.testDataset
      ? report.trainDataset
      : `${report.trainDataset} ${ARROW} ${report.testDataset}`;
  const metricNote = metrics.length > 1 ? '' : ` (${metrics[0]})`;
  return formatTable(header, rows, { title: `${TASK_TITLES[report.task]} on ${dataset}${metricNote}` });
}

/** Heatmap cells of a report's headline metric, one panel per encoder. */
export function heatmapCells(report: DownstreamReport, metric = report.metrics[0]): CrossModalCell[] {
  return report.rows.flatMap((row) =>
    row.pairs
      .filter((p) => p.metrics[metric] !== undefined && Number.isFinite(p.metrics[metric]))
      .map((p) => ({ train: p.train, test: p.test, value: p.metrics[metric], panel: row.encoder })),
  );
}
