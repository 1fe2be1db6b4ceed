// Shared by the migrate end-to-end tests: a bucket's worth of varied objects, and the CLI as a
// child process whose JSON output we can watch.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';

import { CLI } from '../helpers/cli.js';

export const MiB = 1024 * 1024;

export interface SeedObject {
  key: string;
  size: number;
  headers: Record<string, string>;
}

/** Deterministic bytes for a key, so both sides can be checked without keeping them. */
export function bytesFor(key: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(key).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/**
 * 2,000 objects (1,999 and a big one): mostly tiny, one in 50 between 100 KiB and 1 MiB, one of 12 MiB; keys with
 * unicode, spaces, '+', '%' and XML-special characters; some with metadata.
 */
export function seedSet(n = 1999): SeedObject[] {
  const out: SeedObject[] = [];
  for (let i = 0; i < n; i++) {
    const dir = ['photos', 'docs ü', 'a+b', 'x&y<z>', '日本'][i % 5]!;
    const key = `${dir}/obj ${String(i).padStart(4, '0')}${i % 7 === 0 ? ' +plus%25' : ''}.bin`;
    const size = i % 50 === 7 ? 100 * 1024 + ((i * 7919) % (900 * 1024)) : (i * 37) % 2000;
    const headers: Record<string, string> = {};
    if (i % 3 === 0) headers['content-type'] = i % 2 ? 'image/jpeg' : 'text/plain; charset=utf-8';
    if (i % 10 === 0) Object.assign(headers, { 'x-amz-meta-owner': `user-${i}`, 'cache-control': 'max-age=60', 'content-disposition': `attachment; filename="f${i}.bin"` });
    out.push({ key, size, headers });
  }
  out.push({ key: 'm/big ü+ file.bin', size: 12 * MiB, headers: { 'content-type': 'video/mp4', 'x-amz-meta-kind': 'big', 'content-encoding': 'identity' } });
  return out;
}

export interface CliRun {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  out(): string;
  err(): string;
  /** JSON lines seen on stderr and stdout */
  events(): Record<string, unknown>[];
}

export function runCli(args: string[], cwd: string, env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const events = () =>
    (err + '\n' + out)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  return { child, exited, out: () => out, err: () => err, events };
}

export function report(run: CliRun): Record<string, unknown> {
  const r = run.events().find((e) => e.event === 'report');
  if (!r) throw new Error(`no report; stdout: ${run.out().slice(-2000)}\nstderr: ${run.err().slice(-2000)}`);
  return r;
}

/** Resolves once a progress line shows at least `done` objects settled. */
export async function waitForProgress(run: CliRun, done: number, timeoutMs = 120_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const p = run.events().filter((e) => e.event === 'progress').at(-1);
    if (p && Number(p.done) >= done) return Number(p.done);
    if (run.child.exitCode !== null) throw new Error(`exited before ${done} objects: ${run.err().slice(-2000)}`);
    if (Date.now() > until) throw new Error(`no progress to ${done}: ${run.err().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
