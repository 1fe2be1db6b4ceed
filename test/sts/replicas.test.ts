// Stateless sessions: two gateways with their own configs and the same sealing keys, in front of
// one local store. A session issued by one works on the other; after rotation old sessions keep
// working until their key is removed, then InvalidToken.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { tmpdir } from 'node:os';
import { buildConfig } from '../../src/config/load.js';
import { client, failure, GW_KEY, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { assume, s3, SEAL_K1, SEAL_K2 } from './helpers.js';

const dir = tmpDir('s3gate-sts-replicas-');
const doc = (sealingKeys: { id: string; secret: string }[]) => ({
  keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
  upstreams: { disk: { provider: 'local', path: dir } },
  buckets: { shared: { upstream: 'disk' } },
  roles: { uploader: { assumableBy: [GW_KEY.accessKeyId], allow: [{ bucket: 'shared', prefix: 'in/', actions: ['read', 'write'] }] } },
  sts: { sealingKeys },
});
let one: Awaited<ReturnType<typeof startTestGateway>>;
let two: Awaited<ReturnType<typeof startTestGateway>>;

beforeAll(async () => {
  one = await startTestGateway(doc([SEAL_K1]));
  two = await startTestGateway(doc([SEAL_K1]));
  await client(one.url, GW_KEY, { forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'shared' }));
});
afterAll(async () => {
  await one?.close();
  await two?.close();
});

const put = (url: string, c: Parameters<typeof s3>[1], key: string) => s3(url, c).send(new PutObjectCommand({ Bucket: 'shared', Key: key, Body: key }));
const get = async (url: string, c: Parameters<typeof s3>[1], key: string) => (await s3(url, c).send(new GetObjectCommand({ Bucket: 'shared', Key: key }))).Body!.transformToString();

describe('two gateways with the same sealing keys', () => {
  it('a session from one works on the other; rotation keeps old sessions until their key is removed', async () => {
    const fromOne = await assume(one.url, GW_KEY, { RoleSessionName: 'replica' });
    await put(one.url, fromOne, 'in/a.txt');
    expect(await get(two.url, fromOne, 'in/a.txt')).toBe('in/a.txt');
    expect((await failure(put(two.url, fromOne, 'out/a.txt'))).name).toBe('AccessDenied');

    // Rotation, step 1: the new key seals, the old one still opens.
    two.setConfig(buildConfig({ listen: [{ address: '127.0.0.1:0' }], ...doc([SEAL_K2, SEAL_K1]) }, tmpdir()));
    const fromTwo = await assume(two.url, GW_KEY, { RoleSessionName: 'rotated' });
    expect(fromTwo.sessionToken.startsWith('S3GT1.k2.')).toBe(true);
    expect(await get(two.url, fromOne, 'in/a.txt')).toBe('in/a.txt');
    await put(two.url, fromTwo, 'in/b.txt');
    // A replica that has not been given the new key yet refuses the new sessions.
    expect((await failure(get(one.url, fromTwo, 'in/b.txt'))).name).toBe('InvalidToken');

    // Step 2: the old key is removed; its sessions are refused at once.
    two.setConfig(buildConfig({ listen: [{ address: '127.0.0.1:0' }], ...doc([SEAL_K2]) }, tmpdir()));
    expect(await get(two.url, fromTwo, 'in/b.txt')).toBe('in/b.txt');
    expect((await failure(get(two.url, fromOne, 'in/a.txt'))).name).toBe('InvalidToken');
    expect(await two.metrics.registry.metrics()).toMatch(/s3gate_sts_tokens_refused_total\{reason="unknown-key"\} [1-9]/);
  });
});
