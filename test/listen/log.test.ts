// The log destination gathers lines into batches and hands them to an async writer: every line
// must still come out whole, once, in order, whatever its length or characters, whether the
// process ends by itself or by process.exit, and with workers sharing stdout.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const LOG = pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'listen', 'log.js')).href;
const ACCESS = pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'listen', 'access-log.js')).href;

/** `access`: every other line is an access line, which the batch takes without its newline (writeLine). */
function run(shared: boolean, end: 'natural' | 'exit', access = false): { lines: string[]; stderr: string } {
  const script = `
    const { createLogger } = await import(${JSON.stringify(LOG)});
    const { writeAccess } = await import(${JSON.stringify(ACCESS)});
    const log = createLogger('info', undefined, { shared: ${shared} });
    const words = ['plain', 'ünïcödé bücket', '日本語のキー', 'emoji 🪣🪣', 'x'.repeat(5000), 'y'.repeat(30000), '€'.repeat(25000), 'z'.repeat(100000)];
    for (let i = 0; i < 3000; i++) {
      if (${access} && i % 2 === 1) writeAccess(log, { reqId: String(i), bucket: words[i % words.length], status: 200, bytesIn: i, bytesOut: 0, ms: 0 });
      else log.info({ i, w: words[i % words.length] }, 'line');
    }
    ${end === 'exit' ? 'process.exit(0);' : ''}
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000, maxBuffer: 512 * 1024 * 1024 });
  return { lines: r.stdout.split('\n'), stderr: r.stderr };
}

describe('batched log lines', () => {
  it.each([
    [false, 'natural'], [false, 'exit'], [true, 'natural'], [true, 'exit'],
  ] as const)('shared %s, ending %s: every line whole, once, in order', (shared, end) => {
    const { lines, stderr } = run(shared, end);
    expect(stderr).toBe('');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(3000);
    const words = ['plain', 'ünïcödé bücket', '日本語のキー', 'emoji 🪣🪣', 'x'.repeat(5000), 'y'.repeat(30000), '€'.repeat(25000), 'z'.repeat(100000)];
    lines.forEach((l, i) => {
      const j = JSON.parse(l) as { i: number; w: string; msg: string };
      expect(j.i).toBe(i);
      expect(j.w).toBe(words[i % words.length]);
      expect(j.msg).toBe('line');
    });
  });

  it.each([
    [false, 'natural'], [true, 'exit'],
  ] as const)('access lines among them (shared %s, ending %s): each whole, once, in order', (shared, end) => {
    const { lines, stderr } = run(shared, end, true);
    expect(stderr).toBe('');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(3000);
    const words = ['plain', 'ünïcödé bücket', '日本語のキー', 'emoji 🪣🪣', 'x'.repeat(5000), 'y'.repeat(30000), '€'.repeat(25000), 'z'.repeat(100000)];
    lines.forEach((l, i) => {
      const j = JSON.parse(l) as { i?: number; w?: string; reqId?: string; bucket?: string; bytesIn?: number; msg: string };
      if (i % 2 === 1) {
        expect(j).toMatchObject({ reqId: String(i), bucket: words[i % words.length], bytesIn: i, msg: 'request' });
      } else {
        expect(j.i).toBe(i);
        expect(j.w).toBe(words[i % words.length]);
        expect(j.msg).toBe('line');
      }
    });
  });
});
