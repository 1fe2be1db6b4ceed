// Retries and races on one key, through s3gate with the JS SDK (and boto3 for the retried
// Complete), against the local store: conditional writes with 32 racers (also against Ceph RGW 16,
// saying where it differs from S3), racing part uploads,
// a Complete retried after it succeeded, and 32 writers and readers on one key where every read
// must be one whole version whose metadata belongs to its bytes.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { client, DOMAIN, failure, GW_KEY, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { Readable } from 'node:stream';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
let up: StrictUpstream;
let s3: S3Client;
let ceph: CephInfo;
const B = 'races';
const run = Math.random().toString(36).slice(2, 8);
/** The conditional-write tests run on the local store and, through s3gate, on Ceph RGW 16. */
const TARGETS = { local: B, rgw: `races-rgw-${run}` } as const;
const MiB = 1024 * 1024;
/** A bucket on RGW 16 behind the linode preset (ifMatch: unquoted). */
const LINODE = `races-linode-${run}`;

beforeAll(async () => {
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  ceph = await ensureCeph();
  gw = await startTestGateway({
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      disk: { provider: 'local', path: tmpDir('s3gate-races-') },
      // The strict upstream's store checks both, as this override says.
      strict: { provider: 'minio', endpoint: up.url, region: 'us-east-1', credentials: UP_KEY, conditionalWrites: { ifNoneMatch: true, ifMatch: true } },
      // The same upstream as the minio preset describes it: conditions not confirmed.
      unchecked: { provider: 'minio', endpoint: up.url, region: 'us-east-1', credentials: UP_KEY },
      rgw: { provider: 'ceph', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a },
      // The same RGW 16 as the linode preset describes it: If-Match sent unquoted.
      linode: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a },
    },
    buckets: { 'races-strict': { upstream: 'strict' }, 'races-unchecked': { upstream: 'unchecked', bucket: 'races-strict' }, [TARGETS.rgw]: { upstream: 'rgw' }, [LINODE]: { upstream: 'linode' }, '*': { upstream: 'disk' } },
  });
  s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true, maxAttempts: 1 });
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  await s3.send(new CreateBucketCommand({ Bucket: TARGETS.rgw }));
  await s3.send(new CreateBucketCommand({ Bucket: LINODE }));
  await up.store.handle({ method: 'PUT', bucket: 'races-strict', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
  await up?.close();
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
}, 60_000);

const md5 = (b: Buffer | string) => `"${createHash('md5').update(b).digest('hex')}"`;

// RGW 16 differs from S3 in four places, pinned below against RGW itself: If-Match on PUT matches
// only an unquoted ETag (the quoted one S3 answers and SDKs send back is always 412), If-Match on a
// PUT of a missing key is 412 (S3: 404 NoSuchKey), and CopyObject's and CompleteMultipartUpload's
// conditions on the destination are ignored (the write happens). It honours If-None-Match: * on
// PUT, atomically under 32 racers. So the ceph preset says ifNoneMatch only, and through s3gate
// every other condition is refused (501) before anything reaches RGW.
describe.each(Object.keys(TARGETS) as (keyof typeof TARGETS)[])('conditional writes: %s', (target) => {
  const Bucket = TARGETS[target];
  const rgw = target === 'rgw';

  it('of 32 racing If-None-Match: * PUTs of one key exactly one succeeds; the rest get 412', async () => {
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        s3.send(new PutObjectCommand({ Bucket, Key: 'once', Body: `writer ${i}`, IfNoneMatch: '*' })).then(
          (r) => ({ ok: true as const, etag: r.ETag, i }),
          (e: { name: string; $metadata: { httpStatusCode: number } }) => ({ ok: false as const, code: e.name, status: e.$metadata.httpStatusCode, i }),
        ),
      ),
    );
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((r) => !r.ok)) expect([r.code, r.status]).toEqual(['PreconditionFailed', 412]);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'once' }));
    expect(await got.Body!.transformToString()).toBe(`writer ${winners[0]!.i}`);
  });

  it('If-Match on PutObject, CopyObject and CompleteMultipartUpload', async () => {
    // Against RGW, the provider's own behaviour is pinned with a client of its own.
    const c = rgw ? client(ceph.endpoint, ceph.users.a, { forcePathStyle: true }) : s3;
    const first = await c.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'v1' }));
    expect((await failure(c.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'v2', IfMatch: '"0123"' })))).$metadata.httpStatusCode).toBe(412);
    if (rgw) {
      // RGW 16 compares If-Match with its ETag unquoted: the quoted ETag that S3 answers and the
      // SDKs send back is always 412 there.
      expect((await failure(c.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'v2', IfMatch: first.ETag })))).name).toBe('PreconditionFailed');
    }
    const second = await c.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'v2', IfMatch: rgw ? first.ETag!.replace(/"/g, '') : first.ETag }));
    expect(second.ETag).toBe(md5('v2'));
    expect((await failure(c.send(new PutObjectCommand({ Bucket, Key: 'never-was', Body: 'x', IfMatch: first.ETag })))).name).toBe(rgw ? 'PreconditionFailed' : 'NoSuchKey');

    // CopyObject's destination
    const copy = (extra: { IfNoneMatch?: string; IfMatch?: string }, Key = 'cond') => c.send(new CopyObjectCommand({ Bucket, Key, CopySource: `${Bucket}/once`, ...extra }));
    if (rgw) {
      // RGW 16 ignores both and copies.
      await copy({ IfNoneMatch: '*' });
      await copy({ IfMatch: first.ETag });
      await c.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'v2' }));
    } else {
      expect((await failure(copy({ IfNoneMatch: '*' }))).name).toBe('PreconditionFailed');
      expect((await failure(copy({ IfMatch: first.ETag }))).name).toBe('PreconditionFailed');
    }
    await copy({ IfMatch: second.ETag });
    await copy({ IfNoneMatch: '*' }, 'cond-new');

    // CompleteMultipartUpload
    const u = await c.send(new CreateMultipartUploadCommand({ Bucket, Key: 'cond' }));
    const p = await c.send(new UploadPartCommand({ Bucket, Key: 'cond', UploadId: u.UploadId, PartNumber: 1, Body: 'part' }));
    const parts = { Parts: [{ PartNumber: 1, ETag: p.ETag! }] };
    const before = await c.send(new GetObjectCommand({ Bucket, Key: 'cond' }));
    expect(await before.Body!.transformToString()).not.toBe('part');
    const complete = (extra: { IfNoneMatch?: string; IfMatch?: string }) => c.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'cond', UploadId: u.UploadId, MultipartUpload: parts, ...extra }));
    if (rgw) {
      // RGW 16 ignores If-None-Match: * on Complete and completes over the object.
      await complete({ IfNoneMatch: '*' });
    } else {
      expect((await failure(complete({ IfNoneMatch: '*' }))).name).toBe('PreconditionFailed');
      await complete({ IfMatch: before.ETag });
    }
    expect(await (await c.send(new GetObjectCommand({ Bucket, Key: 'cond' }))).Body!.transformToString()).toBe('part');
    if (rgw) c.destroy();
  });

  it('a conditional delete (If-Match, an <ETag> in DeleteObjects) deletes only the object it names; RGW 16\'s is refused', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'del', Body: 'one' }));
    const wrong = '"0123456789abcdef0123456789abcdef"';
    if (rgw) {
      // The ceph preset does not say RGW checks them: refused before anything is sent.
      expect((await failure(s3.send(new DeleteObjectCommand({ Bucket, Key: 'del', IfMatch: wrong })))).$metadata.httpStatusCode).toBe(501);
      expect((await failure(s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'del', ETag: wrong }] } })))).$metadata.httpStatusCode).toBe(501);
      expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'del' }))).Body!.transformToString()).toBe('one');
      return;
    }
    expect((await failure(s3.send(new DeleteObjectCommand({ Bucket, Key: 'del', IfMatch: wrong })))).name).toBe('PreconditionFailed');
    expect((await failure(s3.send(new DeleteObjectCommand({ Bucket, Key: 'never-was', IfMatch: wrong })))).name).toBe('NoSuchKey');
    const r = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'del', ETag: wrong }] } }));
    expect([r.Deleted ?? [], r.Errors?.map((e) => [e.Key, e.Code])]).toEqual([[], [['del', 'PreconditionFailed']]]);
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'del' }))).Body!.transformToString()).toBe('one');
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'del', IfMatch: put.ETag }));
    expect((await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'del' })))).name).toBe('NoSuchKey');
    // A condition the store does not keep refuses the whole request: the first key is not deleted either.
    await s3.send(new PutObjectCommand({ Bucket, Key: 'kept', Body: 'kept' }));
    expect((await failure(s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'kept' }, { Key: 'del', Size: 3 }] } })))).$metadata.httpStatusCode).toBe(501);
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'kept' }))).Body!.transformToString()).toBe('kept');
    const again = await s3.send(new PutObjectCommand({ Bucket, Key: 'del', Body: 'two' }));
    const ok = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'del', ETag: again.ETag }] } }));
    expect(ok.Deleted?.map((d) => d.Key)).toEqual(['del']);
  });

  it.runIf(rgw)('through s3gate, each condition RGW 16 would ignore is refused (501) and the object stays as it was', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'kept', Body: 'kept' }));
    const notImplemented = async (p: Promise<unknown>, header: string) => {
      const e = await failure(p);
      expect([e.name, e.$metadata.httpStatusCode]).toEqual(['NotImplemented', 501]);
      expect(e.message).toContain(`${header} on `);
    };
    await notImplemented(s3.send(new PutObjectCommand({ Bucket, Key: 'kept', Body: 'replaced', IfMatch: put.ETag })), 'If-Match');
    await notImplemented(s3.send(new CopyObjectCommand({ Bucket, Key: 'kept', CopySource: `${Bucket}/once`, IfNoneMatch: '*' })), 'If-None-Match');
    const u = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'kept' }));
    const p = await s3.send(new UploadPartCommand({ Bucket, Key: 'kept', UploadId: u.UploadId, PartNumber: 1, Body: 'part' }));
    await notImplemented(s3.send(new CompleteMultipartUploadCommand({
      Bucket, Key: 'kept', UploadId: u.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag! }] }, IfNoneMatch: '*',
    })), 'If-None-Match');
    const now = await s3.send(new GetObjectCommand({ Bucket, Key: 'kept' }));
    expect([await now.Body!.transformToString(), now.ETag]).toEqual(['kept', put.ETag]);
  });
});

describe('conditional writes to a provider', () => {
  it('through s3gate to a provider that checks them, If-None-Match and If-Match reach the upstream signed', async () => {
    const from = up.requests.length;
    await s3.send(new PutObjectCommand({ Bucket: 'races-strict', Key: 'c', Body: 'one', IfNoneMatch: '*' }));
    expect((await failure(s3.send(new PutObjectCommand({ Bucket: 'races-strict', Key: 'c', Body: 'two', IfNoneMatch: '*' })))).name).toBe('PreconditionFailed');
    await s3.send(new PutObjectCommand({ Bucket: 'races-strict', Key: 'c', Body: 'three', IfMatch: md5('one') }));
    const puts = up.requests.slice(from).filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.headers['if-none-match'] ?? r.headers['if-match'])).toEqual(['*', '*', md5('one')]);
    for (const r of puts) expect(r.signedHeaders).toContain(r.headers['if-match'] ? 'if-match' : 'if-none-match');
  });

  it('to RGW 16 behind the linode preset, If-Match on PutObject works as the SDK sends it (quoted), atomically under 32 racers', async () => {
    const Bucket = LINODE;
    const first = await s3.send(new PutObjectCommand({ Bucket, Key: 'cas', Body: 'v1' }));
    expect((await failure(s3.send(new PutObjectCommand({ Bucket, Key: 'cas', Body: 'no', IfMatch: '"0123456789abcdef0123456789abcdef"' })))).name).toBe('PreconditionFailed');
    const second = await s3.send(new PutObjectCommand({ Bucket, Key: 'cas', Body: 'v2', IfMatch: first.ETag }));
    expect(second.ETag).toBe(md5('v2'));
    // RGW's answer where the key is absent (S3 answers 404 NoSuchKey): the write does not happen either way.
    expect((await failure(s3.send(new PutObjectCommand({ Bucket, Key: 'never-was', Body: 'x', IfMatch: first.ETag })))).name).toBe('PreconditionFailed');
    const results = await Promise.all(Array.from({ length: 32 }, (_, i) =>
      s3.send(new PutObjectCommand({ Bucket, Key: 'cas', Body: `writer ${i}`, IfMatch: second.ETag })).then(() => i, () => -1)));
    const winners = results.filter((i) => i >= 0);
    expect(winners).toHaveLength(1);
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'cas' }))).Body!.transformToString()).toBe(`writer ${winners[0]}`);
    // Copy and Complete, where RGW ignores the condition, are still refused.
    expect((await failure(s3.send(new CopyObjectCommand({ Bucket, Key: 'cas', CopySource: `${Bucket}/cas`, IfMatch: second.ETag })))).$metadata.httpStatusCode).toBe(501);
  });

  it('to a provider whose preset does not say it checks them, every conditional write and delete is refused (501) and nothing is sent', async () => {
    const Bucket = 'races-unchecked';
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'u', Body: 'one' }));
    const from = up.requests.length;
    const refused = async (p: Promise<unknown>) => {
      const e = await failure(p);
      expect([e.name, e.$metadata.httpStatusCode]).toEqual(['NotImplemented', 501]);
    };
    // Small and large bodies: nothing of either may reach the provider.
    await refused(s3.send(new PutObjectCommand({ Bucket, Key: 'u', Body: 'two', IfNoneMatch: '*' })));
    await refused(s3.send(new PutObjectCommand({ Bucket, Key: 'u', Body: Buffer.alloc(3 * MiB, 7), IfNoneMatch: '*' })));
    await refused(s3.send(new PutObjectCommand({ Bucket, Key: 'u', Body: 'three', IfMatch: put.ETag })));
    await refused(s3.send(new CopyObjectCommand({ Bucket, Key: 'u', CopySource: `${Bucket}/u`, IfNoneMatch: '*' })));
    await refused(s3.send(new DeleteObjectCommand({ Bucket, Key: 'u', IfMatch: '"0123"' })));
    await refused(s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'u', ETag: '"0123"' }] } })));
    expect(up.requests.slice(from).map((r) => `${r.method} ${r.url}`)).toEqual([]);
    const now = await s3.send(new GetObjectCommand({ Bucket, Key: 'u' }));
    expect(await now.Body!.transformToString()).toBe('one');
    // The same requests without their conditions go through.
    await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'u' }] } }));
    expect((await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'u' })))).name).toBe('NoSuchKey');
  });
});

describe('multipart retries and races', () => {
  it('two uploads of one part race: the one that finishes last is the part', async () => {
    const u = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp-race' }));
    const slowBytes = Buffer.alloc(6 * MiB, 's');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // The slow upload starts first and finishes last: its body waits until the fast one is done.
    const slow = s3.send(new UploadPartCommand({
      Bucket: B, Key: 'mp-race', UploadId: u.UploadId, PartNumber: 1, ContentLength: slowBytes.length,
      Body: Readable.from((async function* () {
        yield slowBytes.subarray(0, MiB);
        await gate;
        yield slowBytes.subarray(MiB);
      })()),
    }));
    const fastBytes = Buffer.alloc(6 * MiB, 'f');
    const fast = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp-race', UploadId: u.UploadId, PartNumber: 1, Body: fastBytes }));
    release();
    const last = await slow;
    expect(last.ETag).toBe(md5(slowBytes));
    expect((await failure(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mp-race', UploadId: u.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: fast.ETag! }] } })))).name).toBe('InvalidPart');
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mp-race', UploadId: u.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: last.ETag! }] } }));
    const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'mp-race' }))).Body!.transformToByteArray());
    expect(got.equals(slowBytes)).toBe(true);
  });

  it('32 racing uploads of each of two parts complete with the ETags their last answers gave', async () => {
    const u = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp-many' }));
    const last = new Map<number, string>();
    await Promise.all(Array.from({ length: 32 }, async (_, i) => {
      const pn = (i % 2) + 1;
      const body = Buffer.alloc(pn === 1 ? 5 * MiB : 1000, `${i}`.padStart(2, '0'));
      const r = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp-many', UploadId: u.UploadId, PartNumber: pn, Body: body }));
      last.set(pn, r.ETag!);
    }));
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mp-many', UploadId: u.UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: last.get(1)! }, { PartNumber: 2, ETag: last.get(2)! }] } }));
    expect(done.ETag).toMatch(/-2"$/);
  });

  it('a CompleteMultipartUpload retried after it succeeded answers 200 with the same answer (boto3)', async () => {
    const out = await runPython(`
import os
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], region_name='us-east-1', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'])
u = s3.create_multipart_upload(Bucket='${B}', Key='retried')
p = s3.upload_part(Bucket='${B}', Key='retried', UploadId=u['UploadId'], PartNumber=1, Body=b'only part')
parts = {'Parts': [{'PartNumber': 1, 'ETag': p['ETag']}]}
a = s3.complete_multipart_upload(Bucket='${B}', Key='retried', UploadId=u['UploadId'], MultipartUpload=parts)
b = s3.complete_multipart_upload(Bucket='${B}', Key='retried', UploadId=u['UploadId'], MultipartUpload=parts)
try:
    s3.upload_part(Bucket='${B}', Key='retried', UploadId=u['UploadId'], PartNumber=2, Body=b'late')
    late = 'ok'
except Exception as e:
    late = e.response['Error']['Code']
body = s3.get_object(Bucket='${B}', Key='retried')['Body'].read().decode()
print(json.dumps([a['ETag'], b['ETag'], a['Key'], b['Key'], b['ResponseMetadata']['HTTPStatusCode'], late, body]))
`, { EP: `http://${DOMAIN}:${portOf(gw.url)}`, AK: GW_KEY.accessKeyId, SK: GW_KEY.secretAccessKey }, MODERN_PYTHON) as unknown[];
    expect(out[0]).toBe(out[1]);
    expect(out.slice(2)).toEqual(['retried', 'retried', 200, 'NoSuchUpload', 'only part']);
  });
});

describe('32 writers and readers on one key', () => {
  it('every read is one whole version, and its metadata and ETag belong to its bytes', async () => {
    const KEY = 'hammered';
    // Each version's bytes, metadata and ETag all derive from its number: a torn or mixed read
    // cannot satisfy all three.
    const bodyOf = (v: number) => Buffer.alloc(256 * 1024 + v * 997, `<${v}>`);
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'src-a', Body: bodyOf(1000), Metadata: { version: '1000' } }));
    await s3.send(new PutObjectCommand({ Bucket: B, Key: KEY, Body: bodyOf(0), Metadata: { version: '0' } }));
    const problems: string[] = [];
    let reads = 0;
    const writers = Array.from({ length: 16 }, async (_, w) => {
      for (let round = 0; round < 4; round++) {
        const v = w * 10 + round + 1;
        if (round === 3 && w % 4 === 0) {
          await s3.send(new CopyObjectCommand({ Bucket: B, Key: KEY, CopySource: `${B}/src-a` }));
        } else if (round === 2 && w % 4 === 1) {
          const u = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: KEY, Metadata: { version: String(v) } }));
          const p = await s3.send(new UploadPartCommand({ Bucket: B, Key: KEY, UploadId: u.UploadId, PartNumber: 1, Body: bodyOf(v) }));
          await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: KEY, UploadId: u.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag! }] } }));
        } else {
          await s3.send(new PutObjectCommand({ Bucket: B, Key: KEY, Body: bodyOf(v), Metadata: { version: String(v) } }));
        }
      }
    });
    let writing = true;
    const readers = Array.from({ length: 16 }, async () => {
      while (writing) {
        const r = await s3.send(new GetObjectCommand({ Bucket: B, Key: KEY }));
        const bytes = Buffer.from(await r.Body!.transformToByteArray());
        reads++;
        const v = Number(r.Metadata?.version);
        const want = bodyOf(v);
        if (!bytes.equals(want)) problems.push(`metadata says ${v}, bytes are ${bytes.length} long starting ${bytes.subarray(0, 8).toString()}`);
        const multipart = r.ETag?.endsWith('-1"');
        if (!multipart && r.ETag !== md5(bytes)) problems.push(`ETag ${r.ETag} is not the bytes' MD5 (version ${v})`);
        if (Number(r.ContentLength) !== bytes.length) problems.push(`Content-Length ${r.ContentLength} for ${bytes.length} bytes`);
      }
    });
    await Promise.all(writers);
    writing = false;
    await Promise.all(readers);
    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(32);
  }, 120_000);
});
