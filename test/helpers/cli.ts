// The gateway as a real process: `node dist/cli.js --config FILE`, with its stdout (JSON log)
// and stderr captured, for lifecycle tests (signals, reloads, crashes).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '../../dist/cli.js');

export interface CliProcess {
  child: ChildProcess;
  out(): string;
  err(): string;
  lines(): Record<string, unknown>[];
  exited: Promise<number | null>;
  /** the first listener's URL, as the gateway logged it (port 0 in the config resolves here) */
  url: string;
  port: number;
}

export async function startCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; startMs?: number } = {}): Promise<CliProcess> {
  const child = spawn(process.execPath, [CLI, ...args], {
    ...(opts.cwd ? { cwd: opts.cwd } : {}), env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (err += c));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const lines = () => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  await waitFor(() => out.includes('s3gate listening') || child.exitCode !== null, opts.startMs ?? 10_000);
  if (!out.includes('s3gate listening')) throw new Error(`gateway did not start: ${err}`);
  const url = (lines().find((l) => l.msg === 's3gate listening')!.listen as string[])[0]!;
  return { child, exited, out: () => out, err: () => err, lines, url, port: Number(new URL(url).port) };
}

export async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

