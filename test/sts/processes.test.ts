// Two s3gate processes, each with its own proxy.yaml, the same sealing keys read with ${file:…}
// and one local store: a session issued by one works on the other (whose two workers share
// nothing either), and after a rotation by SIGHUP the old key's sessions are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCli, waitFor, type CliProcess } from '../helpers/cli.js';
import { client, failure, GW_KEY, tmpDir } from '../helpers/gateway.js';
import { assume, s3 } from './helpers.js';

const root = tmpDir('s3gate-sts-procs-');
const store = join(root, 'store');
mkdirSync(store);
writeFileSync(join(root, 'k1'), 'process-sealing-secret-one-0123456789abcdef\n');
writeFileSync(join(root, 'k2'), 'process-sealing-secret-two-0123456789abcdef\n');

function yaml(sealing: string[], workers?: number): string {
  return `listen: [{ address: '127.0.0.1:0' }]
${workers ? `workers: ${workers}\n` : ''}keys:
  - { accessKeyId: ${GW_KEY.accessKeyId}, secretAccessKey: ${GW_KEY.secretAccessKey}, allow: [{ bucket: '*', actions: [read, write, list, admin] }] }
upstreams:
  disk: { provider: local, path: ${store} }
buckets:
  shared: { upstream: disk }
roles:
  app: { assumableBy: [${GW_KEY.accessKeyId}], allow: [{ bucket: shared, prefix: app/, actions: [read, write] }] }
sts:
  sealingKeys:
${sealing.map((id) => `    - { id: ${id}, secret: '\${file:${join(root, id)}}' }`).join('\n')}
`;
}

const procs: CliProcess[] = [];
function config(name: string, text: string): string {
  mkdirSync(join(root, name), { recursive: true });
  const file = join(root, name, 'proxy.yaml');
  writeFileSync(file, text);
  return file;
}
const fileB = () => join(root, 'b', 'proxy.yaml');

beforeAll(async () => {
  procs.push(await startCli(['--config', config('a', yaml(['k1']))]));
  procs.push(await startCli(['--config', config('b', yaml(['k1'], 2))]));
  await client(procs[0]!.url, GW_KEY, { forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'shared' }));
}, 60_000);

afterAll(async () => {
  for (const p of procs) {
    p.child.kill('SIGTERM');
    await p.exited;
  }
});

describe('two s3gate processes with the same sealing keys', () => {
  it('share sessions; rotation keeps old sessions until their key is removed', async () => {
    const [a, b] = procs as [CliProcess, CliProcess];
    const fromA = await assume(a.url, GW_KEY, { RoleArn: 'arn:aws:iam::000000000000:role/app', RoleSessionName: 'proc-a' });
    await s3(a.url, fromA).send(new PutObjectCommand({ Bucket: 'shared', Key: 'app/a.txt', Body: 'from a' }));
    // Several requests, so both of b's workers are likely to see the session.
    for (let i = 0; i < 4; i++) {
      const got = await s3(b.url, fromA).send(new GetObjectCommand({ Bucket: 'shared', Key: 'app/a.txt' }));
      expect(await got.Body!.transformToString()).toBe('from a');
    }
    expect((await failure(s3(b.url, fromA).send(new PutObjectCommand({ Bucket: 'shared', Key: 'a.txt', Body: 'x' })))).name).toBe('AccessDenied');

    // b rotates: k2 seals, k1 still opens.
    writeFileSync(fileB(), yaml(['k2', 'k1'], 2));
    b.child.kill('SIGHUP');
    const reloads = () => b.lines().filter((l) => l.msg === 'config reloaded').length;
    await waitFor(() => reloads() >= 1, 20_000);
    const fromB = await assume(b.url, GW_KEY, { RoleArn: 'arn:aws:iam::000000000000:role/app', RoleSessionName: 'proc-b' });
    expect(fromB.sessionToken.startsWith('S3GT1.k2.')).toBe(true);
    await s3(b.url, fromA).send(new GetObjectCommand({ Bucket: 'shared', Key: 'app/a.txt' }));

    // b removes k1: a's sessions are refused there, b's own keep working.
    const before = reloads();
    writeFileSync(fileB(), yaml(['k2'], 2));
    b.child.kill('SIGHUP');
    await waitFor(() => reloads() > before, 20_000);
    for (let i = 0; i < 4; i++) {
      expect((await failure(s3(b.url, fromA).send(new GetObjectCommand({ Bucket: 'shared', Key: 'app/a.txt' })))).name).toBe('InvalidToken');
    }
    await s3(b.url, fromB).send(new PutObjectCommand({ Bucket: 'shared', Key: 'app/b.txt', Body: 'from b' }));
    // Neither process ever logged a token.
    for (const p of procs) expect(p.out() + p.err()).not.toContain(fromA.sessionToken.slice(10, 60));
  }, 120_000);
});
