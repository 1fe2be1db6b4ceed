// What an answer's header block looks like on the wire, through s3gate into RGW 16 and from the
// local store, against RGW's own. Header names are case-blind, but libs3 (`s3 head`) and GDAL
// match them byte for byte: through s3gate's lower-case names, libs3 printed no ETag, Content-Type
// or Content-Length. And RGW 16 answers GetBucketLocation without a Content-Type, which s3gate
// passed on unrewritten: minio-go then signed for RGW's `default` region and was refused once.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { client, GW_KEY, type startTestGateway } from '../helpers/gateway.js';
import { libs3, rgwAndDiskGateway } from './rgw-and-disk.js';
import { minioGoStreamingPut } from '../helpers/minio-go.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let viaGw: S3Client;
const run = randomBytes(4).toString('hex');
const rgwBucket = `hdr-${run}`;
const PLACES = [['through s3gate into RGW 16', rgwBucket], ['the local store', 'disk']] as const;

beforeAll(async () => {
  ceph = await ensureCeph();
  gw = await rgwAndDiskGateway(ceph, 'answer-headers');
  viaGw = client(gw.url, GW_KEY, { forcePathStyle: true });
  for (const [, b] of PLACES) {
    await viaGw.send(new CreateBucketCommand({ Bucket: b }));
    await viaGw.send(new PutObjectCommand({ Bucket: b, Key: 'x.txt', Body: 'hello', ContentType: 'text/plain' }));
  }
}, 10 * 60_000);

afterAll(async () => {
  viaGw?.destroy();
  await gw?.close();
  await removeCephBuckets(ceph, (b) => b.endsWith(run));
}, 60_000);

/** A SigV4-signed request's status, raw header names and body, as the wire carried them. */
async function raw(endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, method: string, path: string, query: Record<string, string> = {}) {
  const url = new URL(endpoint);
  const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const signed = await signer.sign({
    method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, query,
    headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  });
  const qs = new URLSearchParams(query).toString().replace(/=(&|$)/g, '$1');
  // node:http, whose rawHeaders keep each name as the wire spelled it.
  return new Promise<{ status: number; names: string[]; type: string | undefined; body: string }>((resolve, reject) => {
    const req = request(`${endpoint}${path}${qs ? `?${qs}` : ''}`, { method, headers: signed.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
        const names = res.rawHeaders.filter((_, i) => i % 2 === 0);
        resolve({ status: res.statusCode!, names, type: res.headers['content-type'], body });
      });
    });
    req.on('error', reject).end();
  });
}

// What libs3 and GDAL read by their exact bytes, and what S3 itself writes.
const HTTP_NAMES = ['ETag', 'Content-Length', 'Content-Type', 'Last-Modified', 'Accept-Ranges'];

describe('answer header names', { timeout: 60_000 }, () => {
  it('RGW 16 itself writes the HTTP names capitalised (the reference)', async () => {
    const r = await raw(ceph.endpoint, ceph.users.a, 'HEAD', `/${rgwBucket}/x.txt`);
    expect(r.status).toBe(200);
    expect(r.names).toEqual(expect.arrayContaining(HTTP_NAMES));
  });

  it.each(PLACES)('%s: HEAD and GET write ETag, Content-Type, Content-Length as RGW and S3 do, and x-amz-* in lower case', async (_n, bucket) => {
    for (const method of ['HEAD', 'GET']) {
      const r = await raw(gw.url, GW_KEY, method, `/${bucket}/x.txt`);
      expect(r.status).toBe(200);
      expect(r.names).toEqual(expect.arrayContaining([...HTTP_NAMES, 'x-amz-request-id']));
      expect(r.names.filter((n) => n.toLowerCase() !== n && n.toLowerCase().startsWith('x-amz-'))).toEqual([]);
    }
  });

  it.each(PLACES)('%s: an error answer and a listing too', async (_n, bucket) => {
    const missing = await raw(gw.url, GW_KEY, 'GET', `/${bucket}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.names).toEqual(expect.arrayContaining(['Content-Type', 'Content-Length']));
    const list = await raw(gw.url, GW_KEY, 'GET', `/${bucket}`, { 'list-type': '2' });
    expect(list.status).toBe(200);
    expect(list.names).toEqual(expect.arrayContaining(['Content-Type', 'Content-Length']));
  });

  it.each(PLACES)('%s: libs3\'s `s3 head` prints the ETag, Content-Type and Content-Length; `s3 getlogging` answers', async (_n, bucket) => {
    const out = await libs3(gw.url, 'head', `${bucket}/x.txt`);
    expect(out).toMatch(/^Content-Type: text\/plain$/m);
    expect(out).toMatch(/^Content-Length: 5$/m);
    expect(out).toMatch(/^ETag: "5d41402abc4b2a76b9719d911017c592"$/m);
    // An empty BucketLoggingStatus (logging never enabled); the local store answered 501 before.
    expect(await libs3(gw.url, 'getlogging', bucket)).toMatch(/^Service logging is not enabled for this bucket/);
  });
});

describe('GetBucketLocation from RGW 16, which answers it untyped', { timeout: 120_000 }, () => {
  it('RGW alone: no Content-Type, and its own zone group `default` as the constraint', async () => {
    const r = await raw(ceph.endpoint, ceph.users.a, 'GET', `/${rgwBucket}`, { location: '' });
    expect(r.status).toBe(200);
    expect(r.type).toBeUndefined();
    expect(r.body).toContain('>default</LocationConstraint>');
  });

  it('through s3gate: application/xml, and the region s3gate serves (us-east-1: an empty constraint)', async () => {
    const r = await raw(gw.url, GW_KEY, 'GET', `/${rgwBucket}`, { location: '' });
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/xml');
    expect(r.body).toMatch(/<LocationConstraint[^>]*><\/LocationConstraint>|<LocationConstraint[^>]*\/>/);
    // The JS SDK v2 (aws-sdk 2.1693, lib/services/s3.js extractData) reads the constraint as
    // body.match(/>(.+)<\/Location/)?.[1] ?? '': on RGW's one-line document it read
    // `<LocationConstraint xmlns="…">`. S3 writes the element on its own line.
    expect(r.body.match(/>(.+)<\/Location/)?.[1] ?? '').toBe('');
    const alone = await raw(ceph.endpoint, ceph.users.a, 'GET', `/${rgwBucket}`, { location: '' });
    expect(alone.body.match(/>(.+)<\/Location/)?.[1]).toMatch(/^<LocationConstraint xmlns=/);
  });

  it('minio-go without a region looks it up and signs every request for us-east-1: no request refused', async () => {
    const from = gw.sink.lines.length;
    const out = await minioGoStreamingPut(gw.url, GW_KEY, rgwBucket, 'mgo.bin', 1024, '-');
    expect(out).toMatch(/^OK size=1024 same=true/);
    const lines = gw.sink.lines.slice(from).filter((l) => l.op !== undefined);
    expect(lines.map((l) => l.op)).toContain('GetBucketLocation');
    expect(lines.filter((l) => Number(l.status) >= 400)).toEqual([]);
  });
});

describe('a Range the object cannot satisfy (416 InvalidRange)', { timeout: 60_000 }, () => {
  // smart_open opens an object with Range bytes=0- and reads the size of an empty one from the
  // error's ActualObjectSize (KeyError 'ActualObjectSize' against RGW 16 alone).
  const ranged = (endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, bucket: string) => runPython(`
import botocore.exceptions
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'],
    region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
s3.put_object(Bucket='${bucket}', Key='empty.bin', Body=b'')
out = []
for key, rng in (('empty.bin', 'bytes=0-'), ('x.txt', 'bytes=100-')):
    try:
        s3.get_object(Bucket='${bucket}', Key=key, Range=rng)
        out.append('200')
    except botocore.exceptions.ClientError as e:
        err = e.response['Error']
        out.append([e.response['ResponseMetadata']['HTTPStatusCode'], err.get('Code'), err.get('ActualObjectSize'), err.get('RangeRequested')])
print(json.dumps(out))
`, { EP: endpoint, AK: creds.accessKeyId, SK: creds.secretAccessKey }, MODERN_PYTHON) as Promise<unknown[]>;

  it('RGW 16 alone names no ActualObjectSize', async () => {
    expect(await ranged(ceph.endpoint, ceph.users.a, rgwBucket)).toEqual([[416, 'InvalidRange', null, null], [416, 'InvalidRange', null, null]]);
  });

  it.each(PLACES)('%s: S3\'s ActualObjectSize and RangeRequested', async (_n, bucket) => {
    expect(await ranged(gw.url, GW_KEY, bucket)).toEqual([[416, 'InvalidRange', '0', 'bytes=0-'], [416, 'InvalidRange', '5', 'bytes=100-']]);
  });
});
