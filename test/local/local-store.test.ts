import http from 'node:http';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetBucketLoggingCommand,
  GetBucketRequestPaymentCommand,
  PutBucketLoggingCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,

  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { testRequestHandler } from '../upstream/resolve.js';
import { failure as errorOf } from '../helpers/gateway.js';

const creds = { accessKeyId: 'AKLOCALTEST', secretAccessKey: 'local-secret-key' };
const region = 'us-east-1';
const dnsName = 's3.upstream.test';

let up: StrictUpstream;
let s3: S3Client;
let vhost: S3Client;


async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    out.push(p);
    if (d.isDirectory()) out.push(...(await walk(p)));
  }
  return out;
}

beforeAll(async () => {
  up = await startStrictUpstream({ ...creds, region, dnsName });
  const common = { region, credentials: creds, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } as const;
  s3 = new S3Client({ ...common, endpoint: up.url, forcePathStyle: true });
  vhost = new S3Client({ ...common, endpoint: `http://${dnsName}:${up.port}`, forcePathStyle: false, requestHandler: testRequestHandler() });
});

afterAll(async () => {
  s3?.destroy();
  vhost?.destroy();
  await up?.close();
});

describe('buckets', () => {
  it('create, head, list, location, delete', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'bkt-one' }));
    expect((await errorOf(s3.send(new CreateBucketCommand({ Bucket: 'bkt-one' })))).name).toBe('BucketAlreadyOwnedByYou');
    await s3.send(new HeadBucketCommand({ Bucket: 'bkt-one' }));
    expect((await errorOf(s3.send(new HeadBucketCommand({ Bucket: 'nope-bucket' })))).$metadata.httpStatusCode).toBe(404);
    const list = await s3.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).toContain('bkt-one');
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket: 'bkt-one' }));
    expect(loc.LocationConstraint ?? '').toBe('');
    await s3.send(new CreateBucketCommand({ Bucket: 'bkt-eu', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    expect((await s3.send(new GetBucketLocationCommand({ Bucket: 'bkt-eu' }))).LocationConstraint).toBe('eu-west-1');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt-one', Key: 'x', Body: 'x' }));
    expect((await errorOf(s3.send(new DeleteBucketCommand({ Bucket: 'bkt-one' })))).name).toBe('BucketNotEmpty');
    await s3.send(new DeleteObjectCommand({ Bucket: 'bkt-one', Key: 'x' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'bkt-one' }));
    expect((await errorOf(s3.send(new DeleteBucketCommand({ Bucket: 'bkt-one' })))).name).toBe('NoSuchBucket');
    expect((await errorOf(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).name).toBe('InvalidBucketName');
    // Each label begins and ends with a letter or digit, and S3's reserved prefixes and suffixes
    // are refused (ceph's s3-tests test_bucket_create_naming_dns_dot_dash and _dash_dot).
    for (const bad of ['foo.-bar', 'foo-.bar', 'xn--bucket', 'sthree-bucket', 'bucket-s3alias', 'bucket--ol-s3', 'bucket.mrap', 'foo..bar']) {
      expect((await errorOf(s3.send(new CreateBucketCommand({ Bucket: bad })))).name, bad).toBe('InvalidBucketName');
    }
    await s3.send(new CreateBucketCommand({ Bucket: 'a-b.c-d.0' }));
  });

  it('an object asked to be encrypted under a customer key (SSE-C) or a KMS key: 501, nothing stored; AES256 is taken', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'bkt-sse' }));
    const key = Buffer.alloc(32, 7);
    const ssec = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.toString('base64'), SSECustomerKeyMD5: createHash('md5').update(key).digest('base64') };
    const refused = [
      await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt-sse', Key: 'ssec', Body: 'secret', ...ssec }))),
      await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt-sse', Key: 'kms', Body: 'secret', ServerSideEncryption: 'aws:kms' }))),
      await errorOf(s3.send(new CreateMultipartUploadCommand({ Bucket: 'bkt-sse', Key: 'mp', ...ssec }))),
      // A KMS key named without asking for KMS: S3's 400.
      await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt-sse', Key: 'kms', Body: 'secret', SSEKMSKeyId: 'key-1' }))),
      // A method S3 does not know: its 400, not the store's 501.
      await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt-sse', Key: 'kms', Body: 'secret', ServerSideEncryption: 'bogus' as 'AES256' }))),
    ];
    expect(refused.map((e) => e.name)).toEqual(['NotImplemented', 'NotImplemented', 'NotImplemented', 'InvalidArgument', 'InvalidArgument']);
    expect(refused[4]!.$metadata.httpStatusCode).toBe(400);
    for (const k of ['ssec', 'kms']) expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'bkt-sse', Key: k })))).name).toBe('NotFound');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt-sse', Key: 'sse-s3', Body: 'plain', ServerSideEncryption: 'AES256' }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket: 'bkt-sse', Key: 'sse-s3' }))).Body!.transformToString()).toBe('plain');
  });

  it("boto3's cleanup of a bucket's versions (object_versions.delete(), empty markers on its first page) empties it, then the bucket goes", async () => {
    const out = await runPython(`
s3 = boto3.resource('s3', endpoint_url=os.environ['EP'], aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}))
b = s3.create_bucket(Bucket='bkt-cleanup')
for i in range(5): b.put_object(Key=f'k{i}/x', Body=b'x')
listed = s3.meta.client.list_object_versions(Bucket='bkt-cleanup', KeyMarker='', VersionIdMarker='')
from botocore.exceptions import ClientError
try:
    s3.meta.client.list_object_versions(Bucket='bkt-cleanup', VersionIdMarker='null')
    alone = 'listed'
except ClientError as e:
    alone = e.response['Error']['Code']
b.object_versions.delete()
left = [o.key for o in b.objects.all()]
b.delete()
print(json.dumps({'first': [[v['Key'], v['VersionId']] for v in listed['Versions']], 'left': left, 'alone': alone}))
`, { EP: up.url, AK: creds.accessKeyId, SK: creds.secretAccessKey }, MODERN_PYTHON) as { first: string[][]; left: string[]; alone: string };
    expect(out.first).toEqual([0, 1, 2, 3, 4].map((i) => [`k${i}/x`, 'null']));
    expect(out.left).toEqual([]);
    expect((await errorOf(s3.send(new HeadBucketCommand({ Bucket: 'bkt-cleanup' })))).name).toBe('NotFound');
    // A version-id marker with no key marker is S3's 400.
    expect(out.alone).toBe('InvalidArgument');
  });

  it('versioning: GetBucketVersioning answers never enabled; PutBucketVersioning, an S3 operation the store does not keep, answers 501', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'bkt-versions' }));
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'bkt-versions' }))).Status).toBeUndefined();
    const put = await errorOf(s3.send(new PutBucketVersioningCommand({ Bucket: 'bkt-versions', VersioningConfiguration: { Status: 'Enabled' } })));
    expect([put.name, put.$metadata.httpStatusCode]).toEqual(['NotImplemented', 501]);
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'bkt-versions' }))).Status).toBeUndefined();
    await s3.send(new DeleteBucketCommand({ Bucket: 'bkt-versions' }));
  });

  it('logging and request payment: their GETs answer S3\'s never-configured documents (test/ceph/answer-headers.test.ts runs libs3\'s `s3 getlogging`), their PUTs 501', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'bkt-logging' }));
    const logging = await s3.send(new GetBucketLoggingCommand({ Bucket: 'bkt-logging' }));
    expect([logging.$metadata.httpStatusCode, logging.LoggingEnabled]).toEqual([200, undefined]);
    expect((await s3.send(new GetBucketRequestPaymentCommand({ Bucket: 'bkt-logging' }))).Payer).toBe('BucketOwner');
    const put = await errorOf(s3.send(new PutBucketLoggingCommand({ Bucket: 'bkt-logging', BucketLoggingStatus: { LoggingEnabled: { TargetBucket: 'bkt-logging', TargetPrefix: 'l/' } } })));
    expect([put.name, put.$metadata.httpStatusCode]).toEqual(['NotImplemented', 501]);
    const missing = await errorOf(s3.send(new GetBucketLoggingCommand({ Bucket: 'bkt-logging-none' })));
    expect(missing.name).toBe('NoSuchBucket');
    await s3.send(new DeleteBucketCommand({ Bucket: 'bkt-logging' }));
  });
});

describe('objects', () => {
  const B = 'objects';
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: B }));
  });

  it('put/get/head with metadata and headers, path-style and virtual-host', async () => {
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: B,
        Key: 'dir/hello.txt',
        Body: 'hello world',
        ContentType: 'text/plain',
        ContentDisposition: 'attachment; filename="h.txt"',
        CacheControl: 'max-age=60',
        ContentEncoding: 'identity',
        Metadata: { color: 'blue' },
      }),
    );
    expect(put.ETag).toBe(`"${createHash('md5').update('hello world').digest('hex')}"`);
    for (const client of [s3, vhost]) {
      const got = await client.send(new GetObjectCommand({ Bucket: B, Key: 'dir/hello.txt' }));
      expect(await got.Body!.transformToString()).toBe('hello world');
      expect(got.ContentType).toBe('text/plain');
      expect(got.ContentDisposition).toBe('attachment; filename="h.txt"');
      expect(got.CacheControl).toBe('max-age=60');
      expect(got.ContentEncoding).toBe('identity');
      expect(got.Metadata).toEqual({ color: 'blue' });
      expect(got.ETag).toBe(put.ETag);
      const head = await client.send(new HeadObjectCommand({ Bucket: B, Key: 'dir/hello.txt' }));
      expect(head.ContentLength).toBe(11);
    }
    expect(up.requests.some((r) => r.style === 'virtual' && r.bucket === B && r.operation === 'GetObject' && r.status === 200)).toBe(true);
    expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'missing' })))).name).toBe('NoSuchKey');
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'missing' })))).$metadata.httpStatusCode).toBe(404);
    expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'x' })))).name).toBe('NoSuchBucket');
  });

  it('empty objects and response-* overrides', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'empty', Body: '' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'empty', ResponseContentType: 'x/override' }));
    expect(await got.Body!.transformToString()).toBe('');
    expect(got.ContentType).toBe('x/override');
  });

  it('ranges', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'range', Body: '0123456789' }));
    const cases: [string, string, string][] = [
      ['bytes=2-5', '2345', 'bytes 2-5/10'],
      ['bytes=7-', '789', 'bytes 7-9/10'],
      ['bytes=-3', '789', 'bytes 7-9/10'],
      ['bytes=8-100', '89', 'bytes 8-9/10'],
    ];
    for (const [range, body, cr] of cases) {
      const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'range', Range: range }));
      expect(got.$metadata.httpStatusCode).toBe(206);
      expect(got.ContentRange).toBe(cr);
      expect(await got.Body!.transformToString()).toBe(body);
    }
    const bad = await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'range', Range: 'bytes=10-' })));
    expect(bad.name).toBe('InvalidRange');
    expect(bad.$metadata.httpStatusCode).toBe(416);
  });

  it('conditional GETs', async () => {
    const { ETag } = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'cond', Body: 'c' }));
    const past = new Date(Date.now() - 3600_000);
    const future = new Date(Date.now() + 3600_000);
    expect((await s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfMatch: ETag }))).$metadata.httpStatusCode).toBe(200);
    expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfMatch: '"abc"' })))).$metadata.httpStatusCode).toBe(412);
    expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfNoneMatch: ETag })))).$metadata.httpStatusCode).toBe(304);
    expect((await s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfNoneMatch: '"abc"' }))).$metadata.httpStatusCode).toBe(200);
    expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfModifiedSince: future })))).$metadata.httpStatusCode).toBe(304);
    expect((await s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfModifiedSince: past }))).$metadata.httpStatusCode).toBe(200);
    expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfUnmodifiedSince: past })))).name).toBe('PreconditionFailed');
    expect((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cond', IfUnmodifiedSince: future }))).$metadata.httpStatusCode).toBe(200);
    // If-Match wins over a failing If-Unmodified-Since (RFC 7232 §6)
    expect((await s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfMatch: ETag, IfUnmodifiedSince: past }))).$metadata.httpStatusCode).toBe(200);
    // conditional write
    expect((await errorOf(s3.send(new PutObjectCommand({ Bucket: B, Key: 'cond', Body: 'd', IfNoneMatch: '*' })))).name).toBe('PreconditionFailed');
  });

  it('copy with COPY and REPLACE directives', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'src key+1', Body: 'copy me', ContentType: 'text/x-src', Metadata: { a: '1' } }));
    const c1 = await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy-1', CopySource: `${B}/${encodeURIComponent('src key+1')}` }));
    expect(c1.CopyObjectResult?.ETag).toBe(`"${createHash('md5').update('copy me').digest('hex')}"`);
    const g1 = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'copy-1' }));
    expect(await g1.Body!.transformToString()).toBe('copy me');
    expect(g1.Metadata).toEqual({ a: '1' });
    expect(g1.ContentType).toBe('text/x-src');
    await s3.send(
      new CopyObjectCommand({ Bucket: B, Key: 'copy-2', CopySource: `${B}/${encodeURIComponent('src key+1')}`, MetadataDirective: 'REPLACE', ContentType: 'text/y', Metadata: { b: '2' } }),
    );
    const g2 = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'copy-2' }));
    expect(g2.Metadata).toEqual({ b: '2' });
    expect(g2.ContentType).toBe('text/y');
    expect((await errorOf(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy-1', CopySource: `${B}/copy-1` })))).name).toBe('InvalidRequest');
    expect((await errorOf(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy-3', CopySource: `${B}/missing` })))).name).toBe('NoSuchKey');
  });

  it('a website redirect location is kept with its object, and a copy has only the one its request names (S3 never copies it)', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'redirected', Body: 'x', WebsiteRedirectLocation: '/elsewhere.html' }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'redirected' }))).WebsiteRedirectLocation).toBe('/elsewhere.html');
    const g = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'redirected' }));
    await g.Body!.transformToString();
    expect(g.WebsiteRedirectLocation).toBe('/elsewhere.html');
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'redirected-copy', CopySource: `${B}/redirected` }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'redirected-copy' }))).WebsiteRedirectLocation).toBeUndefined();
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'redirected-copy', CopySource: `${B}/redirected`, WebsiteRedirectLocation: 'https://example.com/' }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'redirected-copy' }))).WebsiteRedirectLocation).toBe('https://example.com/');
    // A new location is a change: an object may be copied onto itself with one.
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'redirected', CopySource: `${B}/redirected`, WebsiteRedirectLocation: '/moved.html' }));
    const h = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'redirected' }));
    expect([h.WebsiteRedirectLocation, h.ContentLength]).toEqual(['/moved.html', 1]);
    // So is asking for encryption (SSE-S3); with nothing changed, S3's 400.
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'redirected', CopySource: `${B}/redirected`, ServerSideEncryption: 'AES256' }));
    const same = await errorOf(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'redirected', CopySource: `${B}/redirected` })));
    expect([same.name, same.$metadata.httpStatusCode]).toEqual(['InvalidRequest', 400]);
    const mp = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'redirected-mp', WebsiteRedirectLocation: '/mp.html' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'redirected-mp', UploadId: mp.UploadId, PartNumber: 1, Body: 'p' }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'redirected-mp', UploadId: mp.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'redirected-mp' }))).WebsiteRedirectLocation).toBe('/mp.html');
  });

  it('a storage class is kept as S3 keeps it: HEAD, GET and listings name it, a copy has only its own request\'s; archived classes 501, unknown ones 400', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'ia', Body: 'x', StorageClass: 'STANDARD_IA' }));
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'plain', Body: 'x', StorageClass: 'STANDARD' }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ia' }))).StorageClass).toBe('STANDARD_IA');
    // STANDARD, the default, is not named, as S3 does not name it.
    expect((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'plain' }))).StorageClass).toBeUndefined();
    const g = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'ia' }));
    await g.Body!.transformToString();
    expect(g.StorageClass).toBe('STANDARD_IA');
    const listed = (await s3.send(new ListObjectsV2Command({ Bucket: B }))).Contents ?? [];
    expect(listed.filter((o) => o.Key === 'ia' || o.Key === 'plain').map((o) => [o.Key, o.StorageClass])).toEqual([['ia', 'STANDARD_IA'], ['plain', 'STANDARD']]);
    expect((await s3.send(new ListObjectsCommand({ Bucket: B, Prefix: 'ia' }))).Contents?.[0]?.StorageClass).toBe('STANDARD_IA');
    // A copy is STANDARD unless its request names a class; a new class is a change, so an object may be copied onto itself with one.
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'ia-copy', CopySource: `${B}/ia` }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ia-copy' }))).StorageClass).toBeUndefined();
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'ia', CopySource: `${B}/ia`, StorageClass: 'ONEZONE_IA' }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ia' }))).StorageClass).toBe('ONEZONE_IA');
    const mp = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'tiered', StorageClass: 'INTELLIGENT_TIERING' }));
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: 'tiered' }))).Uploads?.map((u) => u.StorageClass)).toEqual(['INTELLIGENT_TIERING']);
    const part = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'tiered', UploadId: mp.UploadId, PartNumber: 1, Body: 'p' }));
    expect((await s3.send(new ListPartsCommand({ Bucket: B, Key: 'tiered', UploadId: mp.UploadId }))).StorageClass).toBe('INTELLIGENT_TIERING');
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'tiered', UploadId: mp.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'tiered' }))).StorageClass).toBe('INTELLIGENT_TIERING');
    // An archived class is served only after a RestoreObject, which the store does not keep; a class S3 does not have is S3's 400.
    const archived = await errorOf(s3.send(new PutObjectCommand({ Bucket: B, Key: 'cold', Body: 'x', StorageClass: 'GLACIER' })));
    expect([archived.name, archived.$metadata.httpStatusCode]).toEqual(['NotImplemented', 501]);
    const unknown = await errorOf(s3.send(new PutObjectCommand({ Bucket: B, Key: 'cold', Body: 'x', StorageClass: 'COLD' as 'GLACIER' })));
    expect([unknown.name, unknown.$metadata.httpStatusCode]).toEqual(['InvalidStorageClass', 400]);
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cold' })))).$metadata.httpStatusCode).toBe(404);
  });

  it('DeleteObjects, quiet and verbose', async () => {
    for (const k of ['d1', 'd2', 'd3', 'd&<4>']) await s3.send(new PutObjectCommand({ Bucket: B, Key: k, Body: k }));
    const r = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: 'd1' }, { Key: 'd&<4>' }, { Key: 'never-there' }] } }));
    expect(r.Deleted?.map((d) => d.Key).sort()).toEqual(['d&<4>', 'd1', 'never-there']);
    const q = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Quiet: true, Objects: [{ Key: 'd2' }, { Key: 'd3' }] } }));
    expect(q.Deleted ?? []).toEqual([]);
    // A version named is named back, deleted (the "null" version) or not (any other: no versioning here).
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'dv', Body: 'v' }));
    const v = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: 'dv', VersionId: 'someversion' }, { Key: 'dv', VersionId: 'null' }] } }));
    expect(v.Errors?.map((e) => [e.Key, e.VersionId, e.Code])).toEqual([['dv', 'someversion', 'InvalidArgument']]);
    expect(v.Deleted?.map((d) => [d.Key, d.VersionId])).toEqual([['dv', 'null']]);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'd' }));
    expect((left.Contents ?? []).map((c) => c.Key)).toEqual(['dir/hello.txt']);
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'never-there' }));
  });
});

describe('listing', () => {
  const B = 'listing';
  const keys = ['a/1', 'a/2', 'a/b/3', 'b', 'c/1', 'c/2', 'd', 'sp ace/x', 'z+plus', '\u00e9t\u00e9', '\u{1F600}', '\uFFFD'];
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: B, Key: k, Body: k }));
  });

  it('orders keys by UTF-8 bytes', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: B }));
    const expected = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(r.Contents?.map((c) => c.Key)).toEqual(expected);
    // U+FFFD sorts before U+1F600 in UTF-8 but after it in UTF-16
    expect(expected.indexOf('\uFFFD')).toBeLessThan(expected.indexOf('\u{1F600}'));
  });

  it('v2 pagination with delimiter and small max-keys', async () => {
    const seenKeys: string[] = [];
    const seenPrefixes: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: B, Delimiter: '/', MaxKeys: 2, ContinuationToken: token }));
      pages++;
      expect((r.Contents?.length ?? 0) + (r.CommonPrefixes?.length ?? 0)).toBeLessThanOrEqual(2);
      seenKeys.push(...(r.Contents ?? []).map((c) => c.Key!));
      seenPrefixes.push(...(r.CommonPrefixes ?? []).map((c) => c.Prefix!));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    expect(seenPrefixes).toEqual(['a/', 'c/', 'sp ace/']);
    expect(seenKeys).toEqual(['b', 'd', 'z+plus', '\u00e9t\u00e9', '\uFFFD', '\u{1F600}']);
    expect(pages).toBe(5);
  });

  it('prefix + delimiter, start-after', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'a/', Delimiter: '/' }));
    expect(r.Contents?.map((c) => c.Key)).toEqual(['a/1', 'a/2']);
    expect(r.CommonPrefixes?.map((c) => c.Prefix)).toEqual(['a/b/']);
    expect(r.KeyCount).toBe(3);
    const s = await s3.send(new ListObjectsV2Command({ Bucket: B, StartAfter: 'c/1', MaxKeys: 2 }));
    expect(s.Contents?.map((c) => c.Key)).toEqual(['c/2', 'd']);
    expect(s.IsTruncated).toBe(true);
  });

  it('v1 with marker', async () => {
    const all: string[] = [];
    let marker: string | undefined;
    for (;;) {
      const r = await s3.send(new ListObjectsCommand({ Bucket: B, MaxKeys: 5, Marker: marker }));
      all.push(...(r.Contents ?? []).map((c) => c.Key!));
      if (!r.IsTruncated) break;
      marker = r.NextMarker ?? r.Contents?.at(-1)?.Key;
    }
    expect(all.length).toBe(keys.length);
  });

  it('encoding-type=url', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: B, EncodingType: 'url', Prefix: 's', Delimiter: '/' }));
    expect(r.EncodingType).toBe('url');
    expect(r.CommonPrefixes?.map((c) => c.Prefix)).toEqual(['sp+ace/']);
    const all = await s3.send(new ListObjectsV2Command({ Bucket: B, EncodingType: 'url' }));
    const decoded = (all.Contents ?? []).map((c) => decodeURIComponent(c.Key!.replace(/\+/g, ' ')));
    expect(decoded).toContain('z+plus');
    expect(decoded).toContain('\u{1F600}');
    expect(all.Contents?.map((c) => c.Key)).toContain('z%2Bplus');
  });

  it('a key too long for a file name (its sidecar named by a hash) lists in its place, with its size', async () => {
    const long = `c/${'\u00e9'.repeat(150)}`;
    await s3.send(new PutObjectCommand({ Bucket: B, Key: long, Body: 'long' }));
    const r = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'c/' }));
    expect(r.Contents?.map((c) => [c.Key, c.Size])).toEqual([['c/1', 3], ['c/2', 3], [long, 4]]);
    expect((await readdir(join(up.root, B, '.s3gate', 'meta'))).some((n) => n.startsWith('~'))).toBe(true);
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: long }));
  });

  it('a listing reads the sidecars of the keys it answers, not the bucket\'s (s3fs lists `?prefix=dir/&max-keys=2` per lookup)', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'm/unreadable', Body: 'x' }));
    // A sidecar no listing of other keys should open: unparseable, a listing that read it would fail.
    await writeFile(join(up.root, B, '.s3gate', 'meta', 'm%2Funreadable.json'), '{not json');
    const r = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'c/', Delimiter: '/', MaxKeys: 2 }));
    expect(r.Contents?.map((c) => c.Key)).toEqual(['c/1', 'c/2']);
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: B, Prefix: 'a/', Delimiter: '/' }));
    expect([v1.Contents?.map((c) => c.Key), v1.CommonPrefixes?.map((c) => c.Prefix)]).toEqual([['a/1', 'a/2'], ['a/b/']]);
    // Its own listing does read it, and says so.
    expect((await errorOf(s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'm/' })))).$metadata.httpStatusCode).toBe(500);
    await rm(join(up.root, B, '.s3gate', 'meta', 'm%2Funreadable.json'));
  });
});

describe('multipart', () => {
  const B = 'multipart';
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: B }));
  });

  it('lib-storage Upload of a 12 MiB stream', async () => {
    const size = 12 * 1024 * 1024;
    const hash = createHash('md5');
    let sent = 0;
    const source = Readable.from(
      (function* () {
        while (sent < size) {
          const n = Math.min(256 * 1024, size - sent);
          const chunk = Buffer.alloc(n, sent % 251);
          hash.update(chunk);
          sent += n;
          yield chunk;
        }
      })(),
    );
    const upload = new Upload({ client: s3, params: { Bucket: B, Key: 'big/file.bin', Body: source, ContentType: 'application/x-big', Metadata: { m: 'v' } } });
    const res = await upload.done();
    expect(res.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'big/file.bin' }));
    expect(head.ContentLength).toBe(size);
    expect(head.ContentType).toBe('application/x-big');
    expect(head.Metadata).toEqual({ m: 'v' });
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'big/file.bin' }));
    const h2 = createHash('md5');
    for await (const c of got.Body as Readable) h2.update(c as Buffer);
    expect(h2.digest('hex')).toBe(hash.digest('hex'));
  });

  it('create, upload parts, list, complete, with errors along the way', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp' }));
    const p1 = Buffer.alloc(5 * 1024 * 1024, 1);
    const e1 = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp', UploadId, PartNumber: 1, Body: p1 }));
    const e2 = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp', UploadId, PartNumber: 2, Body: 'tail' }));
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: B }));
    expect(uploads.Uploads?.map((u) => u.UploadId)).toContain(UploadId);
    const parts = await s3.send(new ListPartsCommand({ Bucket: B, Key: 'mp', UploadId }));
    expect(parts.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[1, p1.length], [2, 4]]);
    const paged = await s3.send(new ListPartsCommand({ Bucket: B, Key: 'mp', UploadId, MaxParts: 1 }));
    expect(paged.IsTruncated).toBe(true);
    expect(paged.NextPartNumberMarker).toBe('1');

    const complete = (Parts: { PartNumber: number; ETag?: string }[]) => s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mp', UploadId, MultipartUpload: { Parts } }));
    expect((await errorOf(complete([{ PartNumber: 2, ETag: e2.ETag }, { PartNumber: 1, ETag: e1.ETag }]))).name).toBe('InvalidPartOrder');
    expect((await errorOf(complete([{ PartNumber: 1, ETag: '"0000"' }]))).name).toBe('InvalidPart');
    expect((await errorOf(complete([{ PartNumber: 2, ETag: e2.ETag }, { PartNumber: 3, ETag: e2.ETag }]))).name).toBe('InvalidPart');
    // a small first part
    const { UploadId: small } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp-small' }));
    const s1 = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp-small', UploadId: small, PartNumber: 1, Body: 'x' }));
    const s2 = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp-small', UploadId: small, PartNumber: 2, Body: 'y' }));
    expect((await errorOf(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mp-small', UploadId: small, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: s1.ETag }, { PartNumber: 2, ETag: s2.ETag }] } })))).name).toBe('EntityTooSmall');
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'mp-small', UploadId: small }));
    expect((await errorOf(s3.send(new ListPartsCommand({ Bucket: B, Key: 'mp-small', UploadId: small })))).name).toBe('NoSuchUpload');

    const done = await complete([{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }]);
    const expectedEtag = createHash('md5')
      .update(Buffer.concat([Buffer.from(e1.ETag!.replace(/"/g, ''), 'hex'), Buffer.from(e2.ETag!.replace(/"/g, ''), 'hex')]))
      .digest('hex');
    expect(done.ETag).toBe(`"${expectedEtag}-2"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'mp', Range: `bytes=${p1.length - 1}-` }));
    expect(await got.Body!.transformToString()).toBe('\u0001tail');
    expect((await errorOf(s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp', UploadId, PartNumber: 3, Body: 'late' })))).name).toBe('NoSuchUpload');
    expect((await errorOf(s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'mp', UploadId: 'not-an-upload' })))).name).toBe('NoSuchUpload');
  });

  it('UploadPartCopy with a source range', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'pc-src', Body: 'abcdefghij' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'pc' }));
    const part = await s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'pc', UploadId, PartNumber: 1, CopySource: `${B}/pc-src`, CopySourceRange: 'bytes=2-4' }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'pc', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult?.ETag }] } }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'pc' }))).Body!.transformToString()).toBe('cde');
  });
});

describe('unsafe keys', () => {
  const B = 'escape';
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: B }));
  });

  it('stores path-like and hostile keys inside the bucket and round-trips them', async () => {
    const hostile = ['../../outside.txt', '../escape/../../x', '/leading', 'a/../../b', '.s3gate/meta/x.json', '.s3gate', '..', '.', 'nul\u0000byte', 'x'.repeat(300), 'seg/'.repeat(200) + 'deep', '%2e%2e%2Fpct', '~hash-like'];
    for (const k of hostile) {
      // The SDK normalises nothing, but '.'/'..' would be collapsed by URL parsers; send raw.
      await s3.send(new PutObjectCommand({ Bucket: B, Key: k, Body: `v:${k}` }));
    }
    for (const k of hostile) {
      const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: k }));
      expect(await got.Body!.transformToString()).toBe(`v:${k}`);
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: B }));
    expect(listed.Contents?.map((c) => c.Key).sort()).toEqual([...hostile].sort());
    const files = await walk(up.root);
    for (const f of files) expect(relative(up.root, f).startsWith('..')).toBe(false);
    // nothing landed outside the bucket directory, and everything in it sits one level deep
    for (const f of files.filter((f) => f.startsWith(join(up.root, B) + '/') && !f.includes('/.s3gate'))) {
      expect(relative(join(up.root, B), f)).not.toContain('/');
    }
    expect((await errorOf(s3.send(new PutObjectCommand({ Bucket: B, Key: 'k'.repeat(1025), Body: 'x' })))).name).toBe('KeyTooLongError');
  });

  it('a raw path with dot segments cannot name a bucket outside the root', async () => {
    for (const bucket of ['..', '../..', '.s3gate', 'a/../b', '%2e%2e']) {
      const err = await up.store.handle({ method: 'GET', bucket, query: new URLSearchParams(), headers: {}, body: Readable.from([]) }).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('InvalidBucketName');
    }
    const res = await rawRequest('GET', '/..%2F..%2Fetc/passwd');
    expect(res.status).toBe(403); // unsigned: refused before it gets near the store
  });
});

describe('aborted uploads', () => {
  const B = 'aborted';
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: B }));
  });

  it('a PUT killed mid-body leaves nothing visible and no temp file', async () => {
    const url = new URL(`${up.url}/${B}/killed`);
    const signer = new SignatureV4({ credentials: creds, region, service: 's3', sha256: Sha256, uriEscapePath: false });
    const total = 1024 * 1024;
    const signed = await signer.sign({
      method: 'PUT',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: {},
      headers: { host: url.host, 'content-length': String(total), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    const before = up.requests.length;
    await new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: url.port, method: 'PUT', path: url.pathname, headers: signed.headers });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(Buffer.alloc(256 * 1024, 7), () => {
        // give the upstream a chance to start spooling before the connection dies
        const poll = () => {
          const rec = up.requests[before];
          if (rec && rec.bodyBytes > 0) req.destroy();
          else setTimeout(poll, 5);
        };
        poll();
      });
    });
    // the store's cleanup runs after the socket closes; wait for the request record to settle
    for (let i = 0; i < 200 && up.requests[before]?.status === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(up.requests[before]?.status).toBe(400);
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'killed' })))).$metadata.httpStatusCode).toBe(404);
    expect(await readdir(join(up.root, B, '.s3gate', 'tmp'))).toEqual([]);
    const files = (await readdir(join(up.root, B))).filter((n) => n !== '.s3gate');
    expect(files).toEqual([]);
  });
});

function rawRequest(method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: up.port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
