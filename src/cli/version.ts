import * as fs from 'node:fs';

/** The version in package.json (three levels above dist/src/cli/, where this module runs from). */
export function packageVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  try {
    return (JSON.parse(fs.readFileSync(url, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
