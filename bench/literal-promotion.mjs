// Why per-request objects in src/ are classes, not object literals with getters: V8 allocates
// a literal's AccessorPair in the old generation, and that pair then keeps the object's own
// getter closures, and all they captured, alive until the next major GC. Here 3 million
// "requests" each make one small object that holds a little state, with 64 alive at a time;
// each shape runs in a fresh process, on whatever node runs this script.
//   node bench/literal-promotion.mjs        (add --trace-gc-nvp to the child to see bytes promoted)
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver, constants } from 'node:perf_hooks';

const SHAPES = ['literal with getter and setter', 'literal with a spread', 'literal, optional field assigned after', 'class with a getter'];
const N = 3_000_000;

if (process.argv[2] === '--child') {
  const shape = process.argv[3];
  class Body {
    constructor(headers, length) {
      this.headers = headers;
      if (length !== undefined) this.length = length;
      this.replaced = undefined;
    }

    get stream() {
      return this.replaced;
    }
  }
  const make = (i) => {
    const headers = { a: `x${i}`, b: i };
    const length = i & 1 ? 4096 : undefined;
    let replaced;
    if (shape === SHAPES[0]) return { get stream() { return replaced; }, set stream(s) { replaced = s; }, length, headers };
    if (shape === SHAPES[1]) return { ...(length !== undefined ? { length } : {}), headers };
    if (shape === SHAPES[2]) {
      const o = { headers };
      if (length !== undefined) o.length = length;
      return o;
    }
    return new Body(headers, length);
  };
  let minor = 0;
  let major = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
      else if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const ring = new Array(64);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) ring[i & 63] = make(i);
  const ms = performance.now() - t0;
  setTimeout(() => {
    obs.disconnect();
    console.log(JSON.stringify({ ms, minor, major }));
  }, 50);
} else {
  console.log(`node ${process.version}, ${N / 1e6} million objects, 64 alive at a time\n`);
  console.log('| shape | ns per object | minor GCs | major GCs |');
  console.log('| --- | --- | --- | --- |');
  for (const shape of SHAPES) {
    const r = JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', shape], { encoding: 'utf8' }));
    console.log(`| ${shape} | ${((r.ms * 1e6) / N).toFixed(0)} | ${r.minor} | ${r.major} |`);
  }
}
