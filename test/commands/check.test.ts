// `s3gate check` against real peers: the strict test upstream (which verifies every signature it
// receives) with right and wrong credentials, a missing provider bucket, a port nothing listens
// on, and the local store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { tmpDir, UP_KEY } from '../helpers/gateway.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { cli } from './run-cli.js';

let up: StrictUpstream;
let deadPort: number;
let dir: string;

function config(name: string, body: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, body);
  return file;
}

const linode = (secret: string) => `
  linode:
    provider: linode
    endpoint: ${up.url}
    region: us-east-1
    credentials: { accessKeyId: ${UP_KEY.accessKeyId}, secretAccessKey: ${secret} }`;

beforeAll(async () => {
  dir = tmpDir('s3gate-check-');
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  const s3 = new S3Client({ region: 'us-east-1', credentials: UP_KEY, endpoint: up.url, forcePathStyle: true, maxAttempts: 1 });
  await s3.send(new CreateBucketCommand({ Bucket: 'media-prod-2024' }));
  s3.destroy();
  // A port that was just free: connecting to it is refused.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
});

afterAll(async () => {
  await up?.close();
});

describe('s3gate check', () => {
  it('(a) right credentials and an existing bucket: OK with latency, exit 0', async () => {
    const before = up.requests.length;
    const file = config('ok', `upstreams:${linode(UP_KEY.secretAccessKey)}
buckets:
  media: { upstream: linode, bucket: media-prod-2024 }
  "*": { upstream: linode }
`);
    const r = await cli(['check', '--config', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok +upstreams\.linode +buckets\.media → media-prod-2024 +HeadBucket +\d+ ms$/m);
    expect(r.stdout).toMatch(/^ok +upstreams\.linode +buckets\.\* +ListBuckets +\d+ ms, 1 bucket visible$/m);
    expect(r.stdout).toContain('all 2 probes passed');
    // What reached the provider: a signed HeadBucket and ListBuckets, with the upstream's key.
    const seen = up.requests.slice(before).map((q) => `${q.operation} ${q.accessKeyId} ${q.status}`).sort();
    expect(seen).toEqual([`HeadBucket ${UP_KEY.accessKeyId} 200`, `ListBuckets ${UP_KEY.accessKeyId} 200`]);
  });

  it('(b) a wrong secret: 403 SignatureDoesNotMatch and the field to check, exit 1', async () => {
    const file = config('wrong', `upstreams:${linode('not-the-secret')}
buckets: { media: { upstream: linode, bucket: media-prod-2024 } }
`);
    const r = await cli(['check', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL +upstreams\.linode +buckets\.media → media-prod-2024 +HeadBucket +403 SignatureDoesNotMatch: check upstreams\.linode\.credentials$/m);
    expect(r.stdout).toContain('1 of 1 probe failed');
    expect(r.stdout + r.stderr).not.toContain('not-the-secret');
  });

  it('(c) nothing listening: cannot reach, exit 1', async () => {
    const file = config('dead', `upstreams:
  gone: { provider: minio, endpoint: http://127.0.0.1:${deadPort}, credentials: { accessKeyId: a, secretAccessKey: b } }
buckets: { media: { upstream: gone } }
`);
    const r = await cli(['check', '--config', file, '--timeout', '30']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`cannot reach http://127.0.0.1:${deadPort}: connection refused`);
  });

  it('an endpoint that accepts connections but never answers: no answer within --timeout, exit 1', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    try {
      const file = config('silent', `upstreams:
  mute: { provider: minio, endpoint: http://127.0.0.1:${port}, credentials: { accessKeyId: a, secretAccessKey: b } }
buckets: { media: { upstream: mute } }
`);
      const r = await cli(['check', '--config', file, '--timeout', '1']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`no answer from http://127.0.0.1:${port} within 1 s`);
    } finally {
      for (const so of sockets) so.destroy();
      silent.close();
    }
  });

  it('(d) a missing provider bucket: 404 names it, exit 1; --json carries the same', async () => {
    const file = config('missing', `upstreams:${linode(UP_KEY.secretAccessKey)}
buckets:
  media: { upstream: linode, bucket: media-prod-2024 }
  logs: { upstream: linode, bucket: logs-2024 }
`);
    const r = await cli(['check', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL +upstreams\.linode +buckets\.logs → logs-2024 +HeadBucket +404: provider bucket logs-2024 does not exist$/m);
    expect(r.stdout).toMatch(/^ok +upstreams\.linode +buckets\.media/m);

    const j = await cli(['check', '--config', file, '--json']);
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.stdout) as { ok: boolean; results: Record<string, unknown>[] };
    expect(doc.ok).toBe(false);
    expect(doc.results).toEqual([
      expect.objectContaining({ upstream: 'linode', route: 'media', bucket: 'media-prod-2024', operation: 'HeadBucket', ok: true, status: 200, ms: expect.any(Number) }),
      expect.objectContaining({ upstream: 'linode', route: 'logs', bucket: 'logs-2024', operation: 'HeadBucket', ok: false, status: 404, detail: '404: provider bucket logs-2024 does not exist' }),
    ]);
  });

  it('the local upstream: its path must be a writable directory; its buckets must exist', async () => {
    const file = config('local', `upstreams:
  disk: { provider: local, path: ./store }
  bad: { provider: local, path: ./local.yaml }
buckets:
  photos: { upstream: disk }
  "*": { upstream: disk }
  other: { upstream: bad }
`);
    const r = await cli(['check', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^ok +upstreams\\.disk +path ${join(dir, 'store')} +LocalPath +does not exist yet; ${dir} is writable, so it will be created$`, 'm'));
    expect(r.stdout).toContain(`upstreams.bad.path: ${join(dir, 'local.yaml')} is not a directory`);
    expect(r.stdout).toMatch(/404( NoSuchBucket)?: bucket photos does not exist in/);
    expect(r.stdout).toMatch(/^ok +upstreams\.disk +buckets\.\* +ListBuckets/m);
  });

  it('an invalid config prints its field-named problems and exits 2 before probing', async () => {
    const before = up.requests.length;
    const file = config('invalid', `upstreams:${linode(UP_KEY.secretAccessKey)}
buckets: { media: { upstream: linod } }
`);
    const r = await cli(['check', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('buckets.media.upstream: no upstream "linod"; known: linode');
    const j = await cli(['check', '--config', file, '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, problems: ['buckets.media.upstream: no upstream "linod"; known: linode'] });
    expect(up.requests.length).toBe(before);
  });
});
