// Shared by the golden tests: the published implementation's outputs, committed in test/fixtures.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** test/fixtures in the source tree (the compiled tests run from dist/test). */
const FIXTURE_DIR = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));

/** Parses test/fixtures/<name>; the caller states the shape it reads. */
export function readFixture<T>(name: string): T {
  return JSON.parse(fs.readFileSync(FIXTURE_DIR + name, 'utf8')) as T;
}
