// Builds test/helpers/minio-go/main.go with Debian's Go and minio-go 7 packages (GOPATH mode, no
// network), once per source version, and runs it: the Go client whose streaming upload
// (PutObject with size -1) completes with the object's composite x-amz-checksum-crc32c.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./minio-go/main.go', import.meta.url));

export function minioGoBinary(): string {
  const src = readFileSync(SOURCE);
  const dir = join(tmpdir(), `s3gate-minio-go-${createHash('sha256').update(src).digest('hex').slice(0, 12)}`);
  const bin = join(dir, 'minio-go');
  if (existsSync(bin)) return bin;
  mkdirSync(join(dir, 'src', 'mgo'), { recursive: true });
  writeFileSync(join(dir, 'src', 'mgo', 'main.go'), src);
  const tmp = `${bin}.${process.pid}`;
  execFileSync('go', ['build', '-o', tmp, 'mgo'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: dir, GOPATH: `${dir}:/usr/share/gocode`, GO111MODULE: 'off', GOCACHE: join(dir, 'cache'), GOFLAGS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 600_000,
  });
  // Parallel workers may build at once: the rename makes whichever finishes last the one used.
  renameSync(tmp, bin);
  return bin;
}

/**
 * Uploads `size` random bytes with PutObject(size -1), reads them back; "OK size=N same=true …" or
 * "ERR …". `region` '-': none, so minio-go looks the bucket's region up (GetBucketLocation) first.
 */
export function minioGoStreamingPut(endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, bucket: string, key: string, size: number, region = 'us-east-1'): Promise<string> {
  const host = new URL(endpoint).host;
  return new Promise((resolve) => {
    execFile(minioGoBinary(), [host, creds.accessKeyId, creds.secretAccessKey, bucket, key, String(size), region], { timeout: 120_000 }, (_err, stdout, stderr) => {
      resolve((stdout || stderr).trim());
    });
  });
}
