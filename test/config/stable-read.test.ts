// A config read while it is being written: loadConfig reads the file again once the config is
// built, and refuses bytes that were not the whole file at both reads. The file here is a FIFO
// fed by another process, so each read sees exactly the content the writer chose for it: the
// whole file, then the same file cut short (what an in-place write looks like halfway).
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { tmpDir } from '../helpers/gateway.js';

const WHOLE = `
keys:
  - { accessKeyId: FIRSTKEY, secretAccessKey: first-secret-abcdefghijklmnop, allow: [{ bucket: '*', actions: [read] }] }
  - { accessKeyId: SECONDKEY, secretAccessKey: second-secret-abcdefghijklmnop, allow: [{ bucket: '*', actions: [read] }] }
upstreams:
  store: { provider: local, path: ./data }
buckets:
  '*': { upstream: store }
`;
// Half of it, cut at a line: still valid YAML, one key fewer.
const HALF = WHOLE.split('\n').filter((l) => !l.includes('SECONDKEY')).join('\n');

let writer: ChildProcess | undefined;
afterEach(() => {
  writer?.kill('SIGKILL');
  writer = undefined;
});

/** A FIFO whose successive reads return `contents` in turn, forever. */
function fifoServing(contents: string[]): string {
  const dir = tmpDir('s3gate-stable-');
  const fifo = join(dir, 'proxy.yaml');
  execFileSync('mkfifo', [fifo]);
  contents.forEach((c, i) => writeFileSync(join(dir, `v${i}`), c));
  // Each open-write-close is one whole read for the reader; the pause keeps the next open from
  // joining the read before the reader has seen its end of file.
  const script = `const fs=require('fs');const c=${JSON.stringify(contents.map((_, i) => join(dir, `v${i}`)))}.map(f=>fs.readFileSync(f));
let i=0;const next=()=>{const fd=fs.openSync(${JSON.stringify(fifo)},'w');fs.writeSync(fd,c[i++%c.length]);fs.closeSync(fd);setTimeout(next,50);};next();`;
  writer = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  return fifo;
}

describe('loadConfig and a file written while it is read', () => {
  it('loads a file that reads the same twice', () => {
    const cfg = loadConfig(fifoServing([WHOLE]));
    expect([...cfg.keys.keys()].sort()).toEqual(['FIRSTKEY', 'SECONDKEY']);
  });

  it('refuses a file whose reads differ, naming the file, and loads nothing', () => {
    const file = fifoServing([WHOLE, HALF]);
    let err: unknown;
    try {
      loadConfig(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([`${file}: the file changed while it was being read (a write in progress?); nothing was loaded, the next change or SIGHUP loads it`]);
  });
});
