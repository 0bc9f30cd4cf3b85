// Runs the benchmark suites: every bench/<name>.bench.ts exporting `run()`, ops first, then the
// rest by name. `npm run bench -- ops train` runs only the named suites, in that order.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIRST = ['ops'];
const here = fileURLToPath(new URL('.', import.meta.url));

function discover(): string[] {
  const names = readdirSync(here)
    .filter((file) => file.endsWith('.bench.js'))
    .map((file) => file.slice(0, -'.bench.js'.length));
  const rank = (name: string) => (FIRST.includes(name) ? FIRST.indexOf(name) : FIRST.length);
  return names.sort((a, c) => rank(a) - rank(c) || a.localeCompare(c));
}

async function main(): Promise<void> {
  const available = discover();
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    console.error(`bench: no suite named ${unknown.join(', ')}; available: ${available.join(', ')}`);
    process.exitCode = 2;
    return;
  }
  for (const name of requested.length > 0 ? requested : available) {
    const suite = (await import(new URL(`./${name}.bench.js`, import.meta.url).href)) as { run?: () => Promise<void> };
    if (typeof suite.run !== 'function') {
      console.error(`bench: ${name}.bench.js does not export run()`);
      process.exitCode = 2;
      continue;
    }
    console.log(`\n######## bench suite: ${name} ########`);
    const started = performance.now();
    await suite.run();
    console.log(`######## ${name}: ${((performance.now() - started) / 1000).toFixed(0)} s ########`);
  }
}

await main();
