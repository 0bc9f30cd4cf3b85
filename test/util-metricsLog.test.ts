import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fsModule from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
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
  assert.throws(
    () => new MetricsLog(file),
    (err: Error) => {
      assert.ok(err.message.includes(file));
      assert.match(err.message, /already exists.*append.*overwrite/);
      return true;
    },
  );
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

test('metrics log: a line counts once complete; continuing a log drops a fragment left by a crash', () => {
  const file = tempFile();
  fs.writeFileSync(file, '{"step":1}\n{"step":9}');
  assert.deepEqual(
    readMetricsLog(file),
    [{ step: 1 }],
    'a last line without its newline is not a record yet, even if it parses',
  );
  const continued = new MetricsLog(file, { append: true });
  continued.write({ step: 2 });
  continued.close();
  assert.equal(fs.readFileSync(file, 'utf8'), '{"step":1}\n{"step":2}\n');
  fs.writeFileSync(file, '{"step":1}\n{"step":2,"lo');
  const log = new MetricsLog(file, { append: true });
  log.write({ step: 2 });
  log.close();
  assert.equal(fs.readFileSync(file, 'utf8'), '{"step":1}\n{"step":2}\n');
  assert.deepEqual(readMetricsLog(file), [{ step: 1 }, { step: 2 }]);
});

test('metrics log: continuing from a step drops the records of later steps, so none is logged twice', () => {
  const file = tempFile();
  fs.writeFileSync(file, `${[1, 2, 3, 4, 5].map((step) => `{"step":${step}}\n`).join('')}{"step":6,`);
  const log = new MetricsLog(file, { append: true, keepThroughStep: 3 });
  log.write({ step: 4 });
  log.close();
  assert.deepEqual(
    readMetricsLog(file).map((r) => r.step),
    [1, 2, 3, 4],
  );
  const missing = tempFile('absent.jsonl');
  new MetricsLog(missing, { append: true, keepThroughStep: 3 }).close();
  assert.equal(fs.readFileSync(missing, 'utf8'), '', 'an absent log is created');
  assert.throws(
    () => new MetricsLog(file, { keepThroughStep: 3 }),
    /keepThroughStep must be a non-negative integer, with append/,
  );
  assert.throws(() => new MetricsLog(file, { append: true, keepThroughStep: -1 }), /keepThroughStep/);
});

test('metrics log: a write that fails part-way (a full disk) leaves no fragment behind', () => {
  const file = tempFile();
  const log = new MetricsLog(file);
  log.write({ step: 1 });
  const realWrite = fsModule.writeSync;
  let calls = 0;
  // A short write of 5 bytes, then ENOSPC.
  fsModule.writeSync = ((fd: number, buffer: Uint8Array, offset: number, _length: number, position: number) => {
    if (calls++ === 0) return realWrite(fd, buffer, offset, 5, position);
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  }) as typeof fsModule.writeSync;
  syncBuiltinESMExports();
  try {
    assert.throws(() => log.write({ step: 2, loss: 1.5 }), /could not write a record to .*metrics\.jsonl: ENOSPC/);
  } finally {
    fsModule.writeSync = realWrite;
    syncBuiltinESMExports();
  }
  assert.equal(calls, 2, 'the short write was continued');
  assert.equal(fs.readFileSync(file, 'utf8'), '{"step":1}\n');
  log.write({ step: 2 });
  log.close();
  assert.deepEqual(readMetricsLog(file), [{ step: 1 }, { step: 2 }]);
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
