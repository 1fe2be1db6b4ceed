// Preloaded into a gateway process by the tests that check what it loads
// (NODE_OPTIONS=--import=<this file>, LOADED_MODULES=<a file to write>). It only observes: a
// resolve hook on the module loader's thread notes every ES module the process resolves, and on
// SIGUSR2 the process writes those, the CommonJS files in require's cache and the Node builtins
// loaded so far (process.moduleLoadList), one per line, to LOADED_MODULES.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const out = process.env.LOADED_MODULES;
if (out) {
  const esm = `${out}.${process.pid}.esm`;
  writeFileSync(esm, '');
  const hooks = `import { appendFileSync } from 'node:fs';
  export async function resolve(specifier, context, next) {
    const r = await next(specifier, context);
    appendFileSync(${JSON.stringify(esm)}, r.url + '\\n');
    return r;
  }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
  process.on('SIGUSR2', () => {
    const cjs = Object.keys(createRequire(import.meta.url).cache).map((f) => `file://${f}`);
    const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => `node:${m.slice(13)}`);
    const all = new Set([...readFileSync(esm, 'utf8').split('\n').filter(Boolean), ...cjs, ...builtins]);
    // Written whole, then renamed, so the test never reads half a list.
    writeFileSync(`${out}.tmp`, [...all].join('\n') + '\n');
    renameSync(`${out}.tmp`, out);
  });
}
