// What a single-page app does with @aws-sdk/client-s3 in the browser, default settings: the
// credentials its server handed it (s3gate's temporary ones), then ordinary calls. Each step's
// outcome, or the error's name as the SDK read it, goes back to the test.
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

window.runS3 = async ({ endpoint, bucket, credentials }) => {
  const out = {};
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
  const step = async (name, f) => {
    try {
      out[name] = await f();
    } catch (e) {
      out[name] = `error ${e.name}`;
    }
  };
  const key = 'sdk/hello ü.txt';
  await step('put', async () => (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'hello from the page', ContentType: 'text/plain', Metadata: { who: 'browser' } }))).ETag);
  await step('putBytes', async () => (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk/bytes.bin', Body: new Uint8Array(100_000).fill(7) }))).ETag);
  await step('get', async () => {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { text: await r.Body.transformToString(), etag: r.ETag, who: r.Metadata?.who, type: r.ContentType };
  });
  await step('getChecked', async () => (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sdk/bytes.bin', ChecksumMode: 'ENABLED' }))).Body.transformToByteArray()).length);
  await step('head', async () => (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength);
  await step('list', async () => (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'sdk/' }))).Contents?.map((c) => c.Key));
  await step('upload', async () => {
    const body = new Uint8Array(11 * 1024 * 1024).fill(1);
    const done = await new Upload({ client: s3, params: { Bucket: bucket, Key: 'sdk/multi.bin', Body: body }, partSize: 5 * 1024 * 1024 }).done();
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'sdk/multi.bin' }));
    return { etag: done.ETag, headEtag: head.ETag, size: head.ContentLength };
  });
  await step('missing', async () => (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sdk/none' })), 'no error'));
  await step('outsideGrant', async () => (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'elsewhere.txt', Body: 'x' })), 'no error'));
  const wrong = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...credentials, secretAccessKey: 'not-the-secret' }, maxAttempts: 1 });
  await step('wrongSecret', async () => (await wrong.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk/wrong.txt', Body: 'x' })), 'no error'));
  await step('delete', async () => {
    for (const k of [key, 'sdk/bytes.bin', 'sdk/multi.bin']) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
    return (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'sdk/' }))).KeyCount;
  });
  document.getElementById('result').textContent = JSON.stringify(out, null, 1);
  return out;
};
