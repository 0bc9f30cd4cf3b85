import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress, formatDuration, formatNumber } from '../src/util/progress.js';

function fakeStream(isTTY: boolean): { isTTY: boolean; output: string[]; write(text: string): void } {
  return {
    isTTY,
    output: [],
    write(text: string) {
      this.output.push(text);
    },
  };
}

function fakeClock(): { now: () => number; advance(ms: number): void } {
  let t = 1000;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

test('progress: plain mode prints one line per 10% and a summary', () => {
  const stream = fakeStream(false);
  const clock = fakeClock();
  const progress = new Progress({ total: 100, label: 'train', stream, now: clock.now });
  for (let i = 0; i < 100; i++) {
    clock.advance(10);
    progress.tick(1, { loss: 1 / (i + 1) });
  }
  progress.done();
  const lines = stream.output
    .join('')
    .split('\n')
    .filter((l) => l !== '');
  assert.equal(lines.length, 11, lines.join('\n'));
  assert.equal(lines[0], 'train: 10/100 (10%) 100 it/s ETA 1s loss=0.1');
  assert.match(lines[4], /^train: 50\/100 \(50%\) 100 it\/s ETA 1s loss=0\.02$/);
  assert.equal(lines[10], 'train: done 100/100 in 1s (100 it/s) loss=0.01');
  assert.ok(!stream.output.join('').includes('\r'), 'no carriage returns in logs');
});

test('progress: plain mode prints at least every 5 s when progress is slow', () => {
  const stream = fakeStream(false);
  const clock = fakeClock();
  const progress = new Progress({ total: 1000, label: 'eval', stream, now: clock.now });
  for (let i = 0; i < 9; i++) {
    clock.advance(2000);
    progress.tick();
  }
  // ticks at 2,4,6,...,18 s: lines when 5 s have passed since the last one: at 6, 12, 18 s.
  assert.deepEqual(
    stream.output.map((l) => l.split(' ')[1]),
    ['3/1000', '6/1000', '9/1000'],
  );
  assert.match(stream.output[0], /ETA 33:14\n$/, 'remaining 997 at 0.5 it/s');
  assert.match(stream.output[0], /2 s\/it/, 'slow rates shown as seconds per item');
});

test('progress: terminal mode redraws one bar, at most every 100 ms', () => {
  const stream = fakeStream(true);
  const clock = fakeClock();
  const progress = new Progress({ total: 40, label: 'pretrain', stream, now: clock.now });
  for (let i = 0; i < 10; i++) progress.tick(); // same instant: no redraw yet
  assert.equal(stream.output.length, 0);
  clock.advance(150);
  progress.tick(10, { step: 20 });
  assert.equal(stream.output.length, 1);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the line ends with the terminal's erase-line escape
  assert.match(stream.output[0], /^\rpretrain \[#{12}\.{12}\] 50% 20\/40 .* ETA 0s step=20\x1b\[K$/);
  progress.done();
  assert.match(stream.output[1], /^\rpretrain: done 20\/40 .*\n$/);
});

test('progress: argument errors name the argument; done() is idempotent; no ticks after done', () => {
  assert.throws(() => new Progress({ total: -1, label: 'x', stream: fakeStream(false) }), /total/);
  assert.throws(() => new Progress({ total: 1.5, label: 'x', stream: fakeStream(false) }), /total/);
  assert.throws(() => new Progress({ total: 3, label: 7 as unknown as string, stream: fakeStream(false) }), /label/);
  const stream = fakeStream(false);
  const progress = new Progress({ total: 3, label: 'x', stream, now: fakeClock().now });
  assert.throws(() => progress.tick(-2), /n must be/);
  progress.done();
  progress.done();
  assert.equal(stream.output.length, 1);
  assert.throws(() => progress.tick(), /after done/);
});

test('progress: number and duration formatting', () => {
  assert.equal(formatNumber(0.000123), '1.23e-4');
  assert.equal(formatNumber(Math.PI), '3.142');
  assert.equal(formatNumber(1234567), '1.23e+6');
  assert.equal(formatNumber(0), '0');
  assert.equal(formatDuration(42.4), '42s');
  assert.equal(formatDuration(187), '3:07');
  assert.equal(formatDuration(3723), '1:02:03');
});
