import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MetricsLog, readMetricsLog } from '../src/train/metricsLog.js';

function tempFile(name = 'metrics.jsonl'): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-metrics-')), name);
}

test('metrics log: each record is on disk as soon as write() returns', () => {
  const file = tempFile();
  const log = new MetricsLog(file);
  log.write({ step: 1, loss: { total: 2.5 } });
  assert.equal(fs.readFileSync(file, 'utf8'), '{"step":1,"loss":{"total":2.5}}\n', 'visible before close');
  log.write({ step: 2, loss: { total: NaN }, perplexity: Infinity });
  log.close();
  log.close();
  assert.deepEqual(readMetricsLog(file), [
    { step: 1, loss: { total: 2.5 } },
    { step: 2, loss: { total: null }, perplexity: null },
  ]);
  assert.throws(() => log.write({ step: 3 }), /closed/);
});

test('metrics log: an existing log is never replaced silently', () => {
  const file = tempFile();
  fs.writeFileSync(file, '{"step":0}\n');
  assert.throws(() => new MetricsLog(file), (err: Error) => {
    assert.ok(err.message.includes(file));
    assert.match(err.message, /already exists.*append.*overwrite/);
    return true;
  });
  assert.equal(fs.readFileSync(file, 'utf8'), '{"step":0}\n');

  const appended = new MetricsLog(file, { append: true });
  appended.write({ step: 1 });
  appended.close();
  assert.deepEqual(readMetricsLog(file), [{ step: 0 }, { step: 1 }]);

  const replaced = new MetricsLog(file, { overwrite: true });
  replaced.write({ step: 9 });
  replaced.close();
  assert.deepEqual(readMetricsLog(file), [{ step: 9 }]);
  assert.throws(() => new MetricsLog(file, { append: true, overwrite: true }), /exclude each other/);
});

test('metrics log: resuming after a crash mid-line keeps the log readable', () => {
  const file = tempFile();
  fs.writeFileSync(file, '{"step":1}\n{"step":2,"lo');
  assert.deepEqual(readMetricsLog(file), [{ step: 1 }], 'the cut-off last line is skipped');
  const log = new MetricsLog(file, { append: true });
  log.write({ step: 2 });
  log.close();
  assert.equal(fs.readFileSync(file, 'utf8'), '{"step":1}\n{"step":2,"lo\n{"step":2}\n');
  // The broken line is now complete (terminated), so a reader must report it rather than guess.
  assert.throws(() => readMetricsLog(file), /metrics\.jsonl:2: not valid JSON/);
});

test('metrics log: bad records are refused and write nothing', () => {
  const file = tempFile();
  const log = new MetricsLog(file);
  assert.throws(() => log.write([1, 2] as unknown as object), /plain object/);
  assert.throws(() => log.write({ when: new Date() }), /record\.when is a Date/);
  assert.throws(() => log.write({ f: () => 1 }), /record\.f is a function/);
  log.close();
  assert.equal(fs.readFileSync(file, 'utf8'), '');
  assert.throws(() => new MetricsLog(path.join(file, 'nested.jsonl')), /cannot open/);
  assert.throws(() => readMetricsLog(tempFile('absent.jsonl')), /cannot read/);
});
