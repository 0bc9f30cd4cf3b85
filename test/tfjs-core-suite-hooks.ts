// Module hooks that let Node load tfjs-core's test files (dist/**/*_test.js): the package ships them
// as ES modules with extensionless relative imports in a package Node treats as CommonJS, and
// jasmine_util.js calls require() from inside an ES module. Registered by tfjs-core-suite-runner.
// (The tfjs the library itself runs on is the package's CommonJS bundle; both copies share tfjs's
// global engine and kernel registry, which is what lets these specs exercise a registered backend.)
import { fileURLToPath } from 'node:url';

const CORE_DIST = '/@tensorflow/tfjs-core/dist/';
// The CommonJS bundles of the package stay CommonJS: the library's own tfjs runs on them.
const BUNDLES = /\/tf-core(\.node|\.es2017|\.fesm)?(\.min)?\.js$/;

function insideCoreDist(url: string | undefined): boolean {
  return url?.startsWith('file:') === true && url.includes(CORE_DIST) && !BUNDLES.test(url);
}

interface ResolveContext {
  parentURL?: string;
}
interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<ResolveResult>;

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<ResolveResult> {
  if (insideCoreDist(context.parentURL) && specifier.startsWith('.') && !specifier.endsWith('.js')) {
    try {
      return await next(`${specifier}.js`, context);
    } catch {
      return next(`${specifier}/index.js`, context);
    }
  }
  return next(specifier, context);
}

interface LoadContext {
  format?: string | null;
}
interface LoadResult {
  format: string;
  source?: string | ArrayBuffer | Uint8Array;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context: LoadContext) => Promise<LoadResult>;

export async function load(url: string, context: LoadContext, next: NextLoad): Promise<LoadResult> {
  if (!insideCoreDist(url) || !url.endsWith('.js')) return next(url, context);
  const loaded = await next(url, { ...context, format: 'module' });
  let source =
    typeof loaded.source === 'string' ? loaded.source : Buffer.from(loaded.source as Uint8Array).toString('utf8');
  // A namespace import of a CommonJS package hides its function-valued properties (seedrandom.alea).
  source = source.replace(/import \* as (\w+) from '(seedrandom|long)'/g, "import $1 from '$2'");
  if (/\brequire[.(]/.test(source)) {
    const file = JSON.stringify(fileURLToPath(url));
    source =
      `import { createRequire as __ucmgCreateRequire } from 'node:module';\n` +
      `const require = __ucmgCreateRequire(${file});\n${source}`;
  }
  return { format: 'module', source, shortCircuit: true };
}
