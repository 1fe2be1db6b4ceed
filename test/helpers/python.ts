// Runs a real Python client (Debian's python3-boto3) against the gateway. Names under .test
// resolve to 127.0.0.1 inside that process only.
import { execFile } from 'node:child_process';

import { execFileSync } from 'node:child_process';

/** Debian's python3-boto3 (1.26): signs SigV2 as old boto3 and s3cmd-era clients do. */
export const PYTHON = '/usr/bin/python3';

/**
 * The newest boto3 on the machine: the image's Python (boto3 1.43 here) sends the January 2025
 * checksum defaults (aws-chunked, CRC trailers) the seeds are about. Falls back to Debian's.
 */
export const MODERN_PYTHON: string = (() => {
  for (const py of ['python3', PYTHON]) {
    try {
      const v = execFileSync(py, ['-c', 'import boto3; print(boto3.__version__)'], { encoding: 'utf8' }).trim();
      const [maj, min] = v.split('.').map(Number) as [number, number];
      if (maj > 1 || min >= 36) return py;
    } catch {
      /* not this one */
    }
  }
  return PYTHON;
})();

export function boto3Version(py = MODERN_PYTHON): string {
  return execFileSync(py, ['-c', 'import boto3; print(boto3.__version__)'], { encoding: 'utf8' }).trim();
}

const PRELUDE = `
import socket, json, sys, os
_real = socket.getaddrinfo
def _gai(host, *a, **k):
    if isinstance(host, str) and (host.endswith('.test') or host == 'localhost'):
        host = '127.0.0.1'
    return _real(host, *a, **k)
socket.getaddrinfo = _gai
import boto3
from botocore.config import Config
`;

export function runPython(script: string, env: Record<string, string> = {}, python = PYTHON): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...(process.env.PYENV_ROOT ? { PYENV_ROOT: process.env.PYENV_ROOT } : {}) };
    execFile(python, ['-c', PRELUDE + script], { env: { ...base, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python failed: ${stderr || err.message}`));
      else {
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop() ?? 'null'));
        } catch {
          reject(new Error(`python printed no JSON: ${stdout}\n${stderr}`));
        }
      }
    });
  });
}
