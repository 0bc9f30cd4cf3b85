// Report figures as SVG, drawn with Vega-Lite (compiled to Vega and rendered headless, no canvas):
// loss curves from metrics records, per-modality code usage, and the cross-modal X->Y accuracy
// heatmap. Each function returns the SVG text; writing files is the caller's choice.

import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { isPlainObject } from '../util/json.js';
import { usageStats } from './codeUsage.js';

/** Points per curve beyond which consecutive points are averaged (keeps SVGs small, smooths noise). */
const MAX_POINTS_PER_CURVE = 600;
const PANEL_WIDTH = 260;
const PANEL_HEIGHT = 150;

/** Fields of metrics records that are bookkeeping rather than curves. */
const NOT_A_CURVE = /^(epoch|step|time|elapsed|seconds|wall|timestamp|lr$)/i;

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** {a: {b: 1}} -> [['a.b', 1]]; only finite numbers are kept. */
function numericLeaves(record: Record<string, unknown>, prefix = ''): [string, number][] {
  const out: [string, number][] = [];
  for (const [key, value] of Object.entries(record)) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'number' && Number.isFinite(value)) out.push([name, value]);
    else if (isPlainObject(value)) out.push(...numericLeaves(value, name));
  }
  return out;
}

export interface LossCurveOptions {
  /** The record field used as x (dotted for nested fields). Default 'step'. */
  x?: string;
  /**
   * Which metrics to draw: dotted names ('loss.total') or groups ('loss' draws every numeric field
   * under loss). Default: every numeric field except bookkeeping (epoch, time, lr, ...).
   */
  metrics?: string[];
  title?: string;
}

/**
 * One small panel per metric (each with its own y scale, since losses differ by orders of
 * magnitude) from metrics-log records such as {step: 10, loss: {total: 1.2, cpc: 0.4}}.
 */
export async function lossCurvesSvg(
  records: readonly Record<string, unknown>[],
  options: LossCurveOptions = {},
): Promise<string> {
  if (!Array.isArray(records)) throw new TypeError('lossCurvesSvg: records must be an array of objects');
  const xField = options.x ?? 'step';
  const wanted = options.metrics;
  const matches = (name: string, entry: string): boolean => name === entry || name.startsWith(`${entry}.`);
  const series = new Map<string, { x: number; y: number }[]>();
  records.forEach((record, i) => {
    if (!isPlainObject(record)) throw new TypeError(`lossCurvesSvg: records[${i}] must be a plain object`);
    const leaves = new Map(numericLeaves(record));
    const x = leaves.get(xField);
    if (x === undefined) return;
    for (const [name, y] of leaves) {
      if (name === xField) continue;
      if (wanted ? !wanted.some((entry) => matches(name, entry)) : NOT_A_CURVE.test(name.split('.').pop()!)) continue;
      if (!series.has(name)) series.set(name, []);
      series.get(name)!.push({ x, y });
    }
  });
  if (wanted) {
    const missing = wanted.filter((entry) => ![...series.keys()].some((name) => matches(name, entry)));
    if (missing.length > 0)
      throw new Error(
        `lossCurvesSvg: no record has numeric ${missing.map((m) => `'${m}'`).join(', ')} together with '${xField}'`,
      );
  }
  if (series.size === 0) throw new Error(`lossCurvesSvg: no record has a numeric '${xField}' and a metric to plot`);

  const values: { metric: string; x: number; y: number }[] = [];
  for (const [metric, points] of series) {
    for (const p of downsample(points.sort((a, b) => a.x - b.x))) values.push({ metric, ...p });
  }
  // Panels in the order the caller listed them (groups keep their fields' order of appearance).
  const names = [...series.keys()];
  const metricOrder = wanted ? wanted.flatMap((entry) => names.filter((name) => matches(name, entry))) : names;
  return render({
    title: options.title ?? 'Training curves',
    data: { values },
    facet: {
      field: 'metric',
      type: 'nominal',
      title: null,
      sort: metricOrder,
      header: { labelFontSize: 12, labelFontWeight: 'bold' },
    },
    columns: Math.min(3, series.size),
    spec: {
      width: PANEL_WIDTH,
      height: PANEL_HEIGHT,
      mark: { type: 'line', strokeWidth: 1.5, clip: true },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: xField },
        y: { field: 'y', type: 'quantitative', title: null, scale: { zero: false } },
      },
    },
    resolve: { scale: { y: 'independent' } },
  });
}

/** Averages runs of consecutive points so a curve has at most MAX_POINTS_PER_CURVE points. */
function downsample(points: { x: number; y: number }[]): { x: number; y: number }[] {
  if (points.length <= MAX_POINTS_PER_CURVE) return points;
  const out: { x: number; y: number }[] = [];
  const window = points.length / MAX_POINTS_PER_CURVE;
  for (let k = 0; k < MAX_POINTS_PER_CURVE; k++) {
    const slice = points.slice(Math.floor(k * window), Math.floor((k + 1) * window));
    out.push({
      x: slice.reduce((s, p) => s + p.x, 0) / slice.length,
      y: slice.reduce((s, p) => s + p.y, 0) / slice.length,
    });
  }
  return out;
}

export interface CodeUsageOptions {
  title?: string;
}

/**
 * How often each code was chosen, one panel per modality (e.g. {audio: counts[M], video: counts[M]}).
 * Panel headers give the number of codes used and the perplexity of the usage distribution.
 */
export async function codeUsageSvg(
  usage: Record<string, ArrayLike<number>>,
  options: CodeUsageOptions = {},
): Promise<string> {
  if (!isPlainObject(usage) || Object.keys(usage).length === 0) {
    throw new TypeError('codeUsageSvg: usage must be an object mapping modality names to per-code counts');
  }
  const values: { panel: string; code: number; codeEnd: number; count: number }[] = [];
  const panels: string[] = [];
  let codebookSize = -1;
  for (const [modality, counts] of Object.entries(usage)) {
    if (counts === null || typeof counts !== 'object' || typeof counts.length !== 'number' || counts.length === 0) {
      throw new TypeError(`codeUsageSvg: usage.${modality} must be a non-empty array of counts`);
    }
    if (codebookSize >= 0 && counts.length !== codebookSize) {
      throw new RangeError(`codeUsageSvg: usage.${modality} has ${counts.length} codes, the others ${codebookSize}`);
    }
    codebookSize = counts.length;
    for (let j = 0; j < counts.length; j++) {
      const c = counts[j];
      if (!Number.isFinite(c) || c < 0)
        throw new RangeError(`codeUsageSvg: usage.${modality}[${j}] must be a finite count >= 0, got ${String(c)}`);
    }
    const { used, perplexity } = usageStats(counts);
    const panel = `${modality}: ${used}/${counts.length} codes used, perplexity ${perplexity.toFixed(1)}`;
    panels.push(panel);
    for (let j = 0; j < counts.length; j++) {
      if (counts[j] > 0) values.push({ panel, code: j, codeEnd: j + 1, count: counts[j] });
    }
  }
  return render({
    title: options.title ?? 'Code usage',
    data: { values },
    facet: {
      row: {
        field: 'panel',
        type: 'nominal',
        title: null,
        sort: panels,
        header: { labelAngle: 0, labelAnchor: 'start', labelOrient: 'top', labelFontSize: 12 },
      },
    },
    spec: {
      width: 560,
      height: 90,
      mark: { type: 'rect', color: '#4c78a8' },
      encoding: {
        x: {
          field: 'code',
          type: 'quantitative',
          title: 'code index',
          scale: { domain: [0, codebookSize], nice: false },
        },
        x2: { field: 'codeEnd' },
        y: { field: 'count', type: 'quantitative', title: 'count' },
        y2: { datum: 0 },
      },
    },
    resolve: { scale: { y: 'independent' } },
  });
}

export interface CrossModalCell {
  /** Modality the head was trained on (X). */
  train: string;
  /** Modality it was tested on (Y). */
  test: string;
  /** Accuracy (or F1, precision...) as a fraction in [0, 1]. */
  value: number;
  /** Optional panel name, e.g. 'Uni-Code, classification' or 'plain VQ'; one heatmap per panel. */
  panel?: string;
}

export interface HeatmapOptions {
  title?: string;
  /** Legend title, e.g. 'accuracy'. */
  metric?: string;
}

/** X->Y table as a heatmap: rows = trained on, columns = tested on, cells labelled with the value in percent. */
export async function crossModalHeatmapSvg(
  cells: readonly CrossModalCell[],
  options: HeatmapOptions = {},
): Promise<string> {
  if (!Array.isArray(cells) || cells.length === 0)
    throw new TypeError('crossModalHeatmapSvg: cells must be a non-empty array');
  const panels: string[] = [];
  const modalities: string[] = [];
  const values = cells.map((cell, i) => {
    const { train, test, value, panel = '' } = (cell ?? {}) as Partial<CrossModalCell>;
    if (
      typeof train !== 'string' ||
      typeof test !== 'string' ||
      typeof panel !== 'string' ||
      typeof value !== 'number'
    ) {
      throw new TypeError(
        `crossModalHeatmapSvg: cells[${i}] must be {train: string, test: string, value: number, panel?: string}`,
      );
    }
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      throw new RangeError(
        `crossModalHeatmapSvg: cells[${i}].value must be a fraction in [0, 1], got ${String(value)}`,
      );
    }
    if (!panels.includes(panel)) panels.push(panel);
    for (const m of [train, test]) if (!modalities.includes(m)) modalities.push(m);
    return { panel, train, test, value };
  });
  const metric = options.metric ?? 'accuracy';
  const side = 52 * modalities.length;
  const heatmap = {
    width: side,
    height: side,
    encoding: {
      x: { field: 'test', type: 'nominal' as const, title: 'tested on (Y)', sort: modalities, axis: { labelAngle: 0 } },
      y: { field: 'train', type: 'nominal' as const, title: 'trained on (X)', sort: modalities },
    },
    layer: [
      {
        mark: { type: 'rect' as const },
        encoding: {
          color: {
            field: 'value',
            type: 'quantitative' as const,
            title: metric,
            scale: { domain: [0, 1], scheme: 'blues' },
            legend: { format: '.0%' },
          },
        },
      },
      {
        mark: { type: 'text' as const, fontSize: 12 },
        encoding: {
          text: { field: 'value', type: 'quantitative' as const, format: '.1%' },
          color: { condition: { test: 'datum.value > 0.55', value: 'white' }, value: 'black' },
        },
      },
    ],
  };
  const title = options.title ?? `Cross-modal generalization (${metric})`;
  if (panels.length === 1 && panels[0] === '') return render({ title, data: { values }, ...heatmap });
  return render({
    title,
    data: { values },
    facet: {
      field: 'panel',
      type: 'nominal',
      title: null,
      sort: panels,
      header: { labelFontSize: 12, labelFontWeight: 'bold' },
    },
    columns: Math.min(3, panels.length),
    spec: heatmap,
  });
}
