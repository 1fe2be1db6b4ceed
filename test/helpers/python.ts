// Runs a real Python client (Debian's python3-boto3) against the gateway. Names under .test
// resolve to 127.0.0.1 inside that process only.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PYTHON = '/usr/bin/python3';

export function hasBoto3(): boolean {
  return existsSync(PYTHON);
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

export function runPython(script: string, env: Record<string, string> = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ['-c', PRELUDE + script], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
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
