// AV-Fashion in other languages: class words and templates accept letters of any script (with
// combining marks, compared in NFC), control characters are still refused, the text features keep
// such words whole, and a German and a French build run for real with espeak-ng's de and fr voices.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openDataset } from '../src/data/directory.js';
import { InvalidInputError } from '../src/data/errors.js';
import { type AvFashionOverrides, resolveAvFashionConfig } from '../src/data/avFashion/config.js';
import {
  AV_FASHION_DEFAULTS,
  type ClipPlan,
  PROVENANCE_FILE,
  buildAvFashion,
  missingAvFashionPackages,
} from '../src/data/avFashion/index.js';
import { descriptionWords } from '../src/data/avFashion/textFeatures.js';

const classes = (words: string[][]) =>
  words.map((w, i) => ({ name: AV_FASHION_DEFAULTS.classes[i].name, fashionMnistLabel: i, words: w }));
const speakers = (language: string) => ({
  train: { voices: [`${language}+m1`, `${language}+f1`] },
  val: { voices: [`${language}+m2`] },
  test: { voices: [`${language}+f2`, `${language}+m3`] },
});
const small = { numClips: 30, seed: 5, speech: { pitches: [50], speeds: [160] } };

const GERMAN: AvFashionOverrides = {
  ...small,
  classes: classes([
    ['t-shirt', 'oberteil', 'top'],
    ['hose', 'jeans', 'hüfthose'],
    ['pullover', 'strickpulli', 'sweatshirt'],
    ['kleid', 'abendkleid', 'sommerkleid'],
    ['mantel', 'jacke', 'Überzieher'],
    ['sandale', 'badelatsche', 'pantoffel'],
    ['hemd', 'bluse', 'oberhemd'],
    ['turnschuh', 'sportschuh', 'laufschuh'],
    ['tasche', 'handtasche', 'geldbörse'],
    ['stiefelette', 'stiefel', 'schnürstiefel'],
  ]),
  splits: speakers('de'),
  speech: {
    ...small.speech,
    backgroundWords: ['hallo', 'fenster', 'fluss', 'sieben', 'musik', 'wetter', 'kaffee', 'morgen', 'garten', 'grün'],
  },
  text: {
    eventTemplates: ['das ist {word}', 'ein Foto von {word}', 'schau dir {word} an', 'hier ist {word} für dich'],
    backgroundTemplates: ['nichts zu sehen', 'eine leere Szene', 'jemand spricht über {word}', 'ruhig für immer'],
  },
};

const FRENCH: AvFashionOverrides = {
  ...small,
  classes: classes([
    ['t-shirt', 'maillot', 'débardeur'],
    ['pantalon', 'jean', 'caleçon'],
    ['pull', 'chandail', 'tricot'],
    ['robe', "robe d'été", 'tunique'],
    ['manteau', 'veste', 'pardessus'],
    ['sandale', 'tong', 'espadrille'],
    ['chemise', 'chemisier', 'blouse'],
    ['basket', 'tennis', 'chaussure de sport'],
    ['sac', 'sac à main', 'pochette'],
    ['bottine', 'botte', 'bottillon'],
  ]),
  splits: speakers('fr'),
  speech: {
    ...small.speech,
    backgroundWords: ['bonjour', 'fenêtre', 'rivière', 'sept', 'musique', 'météo', 'café', 'matin', 'jardin', 'garçon'],
  },
  text: {
    eventTemplates: ['voici {word}', 'une photo de {word}', "quelqu'un montre {word}", 'voilà {word} encore'],
    backgroundTemplates: ['rien à voir', 'une scène vide', 'on parle de {word}', 'ça suffit'],
  },
};

test('German and French words and templates are accepted, lower-cased and in NFC', () => {
  const german = resolveAvFashionConfig(undefined, GERMAN);
  assert.deepEqual(german.classes[4].words, ['mantel', 'jacke', 'überzieher']);
  assert.equal(german.classes[8].words[2], 'geldbörse');
  assert.equal(german.text.eventTemplates[3], 'hier ist {word} für dich');
  const french = resolveAvFashionConfig(undefined, FRENCH);
  assert.deepEqual(french.classes[1].words, ['pantalon', 'jean', 'caleçon']);
  assert.equal(french.classes[3].words[1], "robe d'été");
  assert.equal(french.classes[8].words[1], 'sac à main');
  assert.equal(french.speech.backgroundWords.at(-1), 'garçon');
  // "ü" typed as u plus a combining diaeresis is the same word as the precomposed one.
  const decomposed = resolveAvFashionConfig(undefined, { classes: classes([['hu\u0308te'], ['hose']]) });
  assert.equal(decomposed.classes[0].words[0], 'h\u00fcte');
  assert.throws(
    () => resolveAvFashionConfig(undefined, { classes: classes([['h\u00fcte'], ['hu\u0308te']]) }),
    /'classes\[1\]\.words\[0\]' repeats the word "hüte" of classes\[0\]\.words\[0\]/,
  );
});

test('control characters, digits, markup and a leading mark are still refused, naming the field', () => {
  const refuse = (overrides: AvFashionOverrides, pattern: RegExp) =>
    assert.throws(
      () => resolveAvFashionConfig(undefined, overrides),
      (e: Error) => e instanceof InvalidInputError && pattern.test(e.message),
      JSON.stringify(overrides),
    );
  const escaped = (field: string) => field.replace(/[[\].]/g, '\\$&');
  const control = (field: string) => new RegExp(`'${escaped(field)}' must not contain control characters`);
  refuse({ classes: classes([['hü\u0007te'], ['hose']]) }, control('classes[0].words[0]'));
  refuse({ classes: classes([['hose'], ['gr\u00fcn\t']]) }, control('classes[1].words[0]'));
  refuse({ speech: { backgroundWords: ['caf\u00e9\u0000'] } }, control('speech.backgroundWords[0]'));
  refuse({ text: { eventTemplates: ['ein Foto\nvon {word}'] } }, control('text.eventTemplates[0]'));
  refuse({ text: { backgroundTemplates: ['\u0085rien'] } }, control('text.backgroundTemplates[0]'));
  refuse({ classes: classes([['hose2'], ['jacke']]) }, /'classes\[0\]\.words\[0\]' must be letters/);
  refuse({ classes: classes([['hose'], ['<break/>']]) }, /'classes\[1\]\.words\[0\]' must be letters/);
  refuse({ classes: classes([['\u0308hose'], ['jacke']]) }, /'classes\[0\]\.words\[0\]' must be letters/);
});

test('text features keep words of any script whole, precomposed or not', () => {
  assert.deepEqual(descriptionWords('Ein Foto vom Überzieher'), ['ein', 'foto', 'vom', 'überzieher']);
  assert.deepEqual(descriptionWords('Ein Foto vom U\u0308berzieher'), ['ein', 'foto', 'vom', 'überzieher']);
  assert.deepEqual(descriptionWords("voilà le caleçon d'été, encore"), ['voilà', 'le', 'caleçon', "d'été", 'encore']);
  assert.deepEqual(descriptionWords('the T-shirt, 2 of them'), ['the', 't-shirt', '2', 'of', 'them']);
});

const missing = missingAvFashionPackages(AV_FASHION_DEFAULTS);
const skip = missing.length > 0 ? `needs apt-get install -y ${missing.map((m) => m.aptPackage).join(' ')}` : undefined;
const roots: string[] = [];
after(() => roots.forEach((root) => fs.rmSync(root, { recursive: true, force: true })));

for (const [language, overrides, accented] of [
  ['German', GERMAN, /[üö]/],
  ['French', FRENCH, /[éçà]/],
] as const) {
  test(`a ${language} build speaks and writes its own words`, { skip }, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'avf-language-'));
    roots.push(root);
    await buildAvFashion({ out: path.join(root, 'data'), overrides });
    const dataset = openDataset(path.join(root, 'data'));
    try {
      assert.equal(dataset.numClips, 30);
      const plans: ClipPlan[] = JSON.parse(fs.readFileSync(path.join(root, 'data', PROVENANCE_FILE), 'utf8')).clips;
      const config = resolveAvFashionConfig(undefined, overrides);
      const audio = dataset.readFeatures('audio', Int32Array.from(plans.keys()));
      let spoken = 0;
      let silent = 0;
      let spokenLevel = 0;
      let silentLevel = 0;
      plans.forEach((plan, i) =>
        plan.segments.forEach((segment, t) => {
          const level = audio.subarray((i * 10 + t) * 32, (i * 10 + t + 1) * 32).reduce((a, b) => a + b, 0);
          if (segment.audio.kind === 'word') {
            if (segment.event.audio) assert.ok(config.classes[plan.label].words.includes(segment.audio.word));
            spoken++;
            spokenLevel += level;
          } else if (segment.audio.kind === 'silence') {
            silent++;
            silentLevel += level;
          }
        }),
      );
      assert.ok(spoken > 0 && silent > 0, `${spoken} spoken and ${silent} silent segments`);
      assert.ok(spokenLevel / spoken > silentLevel / silent, 'spoken segments are louder than silent ones');
      const words = plans.flatMap((p) => p.segments.flatMap((s) => (s.audio.kind === 'word' ? [s.audio.word] : [])));
      const heard = [...new Set(words)].join(', ');
      assert.ok(
        words.some((w) => accented.test(w)),
        `some spoken word has an accented letter: ${heard}`,
      );
      const texts = plans.flatMap((p) => p.segments.map((s) => s.text));
      assert.ok(
        texts.some((s) => accented.test(s)),
        'some description has an accented letter',
      );
    } finally {
      dataset.close();
    }
  });
}
