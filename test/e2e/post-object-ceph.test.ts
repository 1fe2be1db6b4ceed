// Issue #22 against a real Ceph RGW 16: browser form uploads through s3gate become a PutObject
// re-signed for RGW in each of its forms here (SigV4, SigV2, SigV4 signed-chunked), from boto3's
// generate_presigned_post (SigV4 and SigV2) with Python requests, and from the JS SDK's
// createPresignedPost with curl -F. The bytes read back directly from RGW equal; a refused
// form leaves nothing in RGW.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, S3Client, type S3ServiceException } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { client, GW_KEY, portOf, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';

let ceph: CephInfo;
let direct: S3Client;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let base: string;
const run = Math.random().toString(36).slice(2, 8);
const B = { v4: `post-v4-${run}`, v2: `post-v2-${run}`, chunk: `post-chunk-${run}` };
const files = tmpDir('s3gate-post-ceph-');

beforeAll(async () => {
  ceph = await ensureCeph();
  direct = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: ceph.users.a, requestChecksumCalculation: 'WHEN_REQUIRED', maxAttempts: 1 });
  for (const b of Object.values(B)) await direct.send(new CreateBucketCommand({ Bucket: b }));
  const creds = { accessKeyId: ceph.users.a.accessKeyId, secretAccessKey: ceph.users.a.secretAccessKey };
  gw = await startTestGateway({
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list'] }] }],
    upstreams: {
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: creds },
      rgwv2: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: creds, signing: { default: 'v2' } },
      rgwchunk: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: creds, payload: { outbound: 'signed-chunked' } },
    },
    buckets: { uploads: { upstream: 'rgw', bucket: B.v4 }, legacy: { upstream: 'rgwv2', bucket: B.v2 }, chunked: { upstream: 'rgwchunk', bucket: B.chunk } },
  });
  base = `http://127.0.0.1:${portOf(gw.url)}`;
}, 600_000);

afterAll(async () => {
  await gw?.close();
  direct?.destroy();
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
}, 60_000);

async function inRgw(bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const r = await direct.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  } catch (e) {
    if ((e as S3ServiceException).$metadata?.httpStatusCode === 404) return undefined;
    throw e;
  }
}

function curlForm(url: string, fields: Record<string, string>, path: string): Promise<{ status: number; body: string }> {
  const args = ['-s', '-S', '-o', '-', '-w', '\n%{http_code}'];
  for (const [k, v] of Object.entries(fields)) args.push('--form-string', `${k}=${v}`);
  args.push('-F', `file=@${path}`, url);
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl failed: ${stderr || err.message}`));
      const at = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) });
    });
  });
}

describe.each([
  ['SigV4', 'uploads', B.v4],
  ['SigV2', 'legacy', B.v2],
  ['SigV4 signed-chunked', 'chunked', B.chunk],
])('into RGW 16 re-signed as %s', (_form, bucket, rgwBucket) => {
  it.each([['s3v4'], ['s3']])('boto3 generate_presigned_post (%s) with requests: 204, bytes equal in RGW', async (sig) => {
    const key = `boto-${sig}/file.bin`;
    const data = randomBytes(150_000);
    const path = join(files, `${bucket}-${sig}.bin`);
    writeFileSync(path, data);
    const out = await runPython(`
import requests
s3 = boto3.client('s3', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url=os.environ['EP'],
    region_name='us-east-1', config=Config(signature_version='${sig}', s3={'addressing_style': 'path'}))
p = s3.generate_presigned_post('${bucket}', '${key}', Fields={'Content-Type': 'application/x-test'}, Conditions=[{'Content-Type': 'application/x-test'}, ['content-length-range', 1, 1000000]])
with open(os.environ['FILE'], 'rb') as f:
    r = requests.post(p['url'], data=p['fields'], files={'file': ('file.bin', f)})
print(json.dumps({'status': r.status_code, 'body': r.text}))
`, { AK: GW_KEY.accessKeyId, SK: GW_KEY.secretAccessKey, EP: base, FILE: path }, MODERN_PYTHON) as { status: number; body: string };
    expect(out.status, out.body).toBe(204);
    expect((await inRgw(rgwBucket, key))?.equals(data)).toBe(true);
    const head = await direct.send(new HeadObjectCommand({ Bucket: rgwBucket, Key: key }));
    expect(head.ContentType).toBe('application/x-test');
  });

  it('a field holding UTF-8 (x-amz-meta-name: café 日本): stored as those bytes, as RGW 16 stores the form posted to it directly', async () => {
    const key = 'utf8/file.txt';
    const post = (ep: string, ak: string, sk: string, b: string) => runPython(`
import requests
s3 = boto3.client('s3', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url=os.environ['EP'],
    region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}))
fields = {'x-amz-meta-name': os.environ['VALUE']}
p = s3.generate_presigned_post('${b}', '${key}', Fields=fields, Conditions=[fields])
r = requests.post(p['url'], data=p['fields'], files={'file': ('file.txt', b'form body')})
print(json.dumps({'status': r.status_code, 'body': r.text}))
`, { AK: ak, SK: sk, EP: ep, VALUE: 'café 日本' }, MODERN_PYTHON) as Promise<{ status: number; body: string }>;
    // The header's bytes as RGW holds them, read straight from RGW: latin1 chars, one per byte.
    const stored = async (b: string) => Buffer.from((await direct.send(new HeadObjectCommand({ Bucket: b, Key: key }))).Metadata?.name ?? '', 'latin1').toString('utf8');
    const baseline = `utf8-${rgwBucket}`;
    await direct.send(new CreateBucketCommand({ Bucket: baseline }));
    const d = await post(ceph.endpoint, ceph.users.a.accessKeyId, ceph.users.a.secretAccessKey, baseline);
    expect(d.status, d.body).toBe(204);
    expect(await stored(baseline)).toBe('café 日本');
    const g = await post(base, GW_KEY.accessKeyId, GW_KEY.secretAccessKey, bucket);
    expect(g.status, g.body).toBe(204);
    expect(await stored(rgwBucket)).toBe('café 日本');
  });

  it('createPresignedPost with curl -F: 201; over the range: EntityTooLarge and nothing in RGW', async () => {
    const s3 = client(base, GW_KEY, { forcePathStyle: true });
    const p = await createPresignedPost(s3, { Bucket: bucket, Key: 'js/${filename}', Fields: { success_action_status: '201' }, Conditions: [['starts-with', '$key', 'js/'], { success_action_status: '201' }, ['content-length-range', 0, 100_000]] });
    s3.destroy();
    const data = randomBytes(80_000);
    const path = join(files, `${bucket}-js.bin`);
    writeFileSync(path, data);
    const r = await curlForm(p.url, p.fields, path);
    expect(r.status, r.body).toBe(201);
    expect(r.body).toContain(`<Key>js/${bucket}-js.bin</Key>`);
    expect((await inRgw(rgwBucket, `js/${bucket}-js.bin`))?.equals(data)).toBe(true);
    const big = join(files, `${bucket}-big.bin`);
    writeFileSync(big, randomBytes(300_000));
    const refused = await curlForm(p.url, p.fields, big);
    expect([refused.status, /<Code>([^<]*)/.exec(refused.body)?.[1]]).toEqual([400, 'EntityTooLarge']);
    expect(await inRgw(rgwBucket, `js/${bucket}-big.bin`)).toBeUndefined();
  });
});
