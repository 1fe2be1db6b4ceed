// ListBuckets' paging (#20): `max-buckets`, `continuation-token`, `prefix` and `bucket-region`, in
// s3gate's own answer (the buckets a key's grants show) and in the local store's. A bucket the
// grants hide never appears and never takes a place in a page. boto3's paginator and the JS SDK's
// paginateListBuckets walk the pages. (RGW 16 predates these parameters and ignores them.)
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, ListBucketsCommand, paginateListBuckets, type S3Client } from '@aws-sdk/client-s3';
import { client, DOMAIN, failure, GW_KEY, GW_KEY_LIMITED, portOf, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';
import { LocalStore } from '../../src/local/store.js';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
let s3: S3Client;
let limited: S3Client;
let endpoint: string;
let store: LocalStore;
const NAMES = ['lb-a1', 'lb-a2', 'lb-a3', 'lb-b1', 'lb-b2', 'lb-c1'];
const SHOWN = ['lb-a1', 'lb-a3', 'lb-b2'];

beforeAll(async () => {
  const dir = tmpDir('s3gate-list-buckets-');
  store = new LocalStore(dir);
  gw = await startTestGateway({
    domains: [DOMAIN],
    region: 'eu-west-3',
    keys: [
      { ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] },
      { ...GW_KEY_LIMITED, allow: SHOWN.map((bucket) => ({ bucket, actions: ['read', 'list'] })) },
    ],
    upstreams: { disk: { provider: 'local', path: dir } },
    buckets: { '*': { upstream: 'disk' } },
  });
  endpoint = `http://${DOMAIN}:${portOf(gw.url)}`;
  s3 = client(endpoint, GW_KEY, { forcePathStyle: true, region: 'eu-west-3' });
  limited = client(endpoint, GW_KEY_LIMITED, { forcePathStyle: true, region: 'eu-west-3' });
  // Created out of order: pages are in name order whatever the order of creation.
  for (const Bucket of [...NAMES].reverse()) await s3.send(new CreateBucketCommand({ Bucket }));
});

afterAll(async () => {
  s3?.destroy();
  limited?.destroy();
  await gw?.close();
});

async function pages(c: S3Client, input: { MaxBuckets?: number; Prefix?: string; BucketRegion?: string }): Promise<string[][]> {
  const out: string[][] = [];
  for await (const p of paginateListBuckets({ client: c }, input)) out.push((p.Buckets ?? []).map((b) => b.Name!));
  return out;
}

describe('ListBuckets through s3gate', () => {
  it('without paging parameters: every bucket the grants show, in one answer with no token', async () => {
    const all = await s3.send(new ListBucketsCommand({}));
    expect([all.Buckets!.map((b) => b.Name), all.ContinuationToken, all.Prefix]).toEqual([NAMES, undefined, undefined]);
    expect(all.Buckets!.map((b) => b.BucketRegion)).toEqual(NAMES.map(() => 'eu-west-3'));
    expect((await limited.send(new ListBucketsCommand({}))).Buckets!.map((b) => b.Name)).toEqual(SHOWN);
  });

  it('max-buckets pages in name order, and hidden buckets neither appear nor take a place (JS SDK)', async () => {
    expect(await pages(s3, { MaxBuckets: 4 })).toEqual([NAMES.slice(0, 4), NAMES.slice(4)]);
    expect(await pages(limited, { MaxBuckets: 1 })).toEqual(SHOWN.map((n) => [n]));
    expect(await pages(limited, { MaxBuckets: 2, Prefix: 'lb-a' })).toEqual([['lb-a1', 'lb-a3']]);
    const first = await limited.send(new ListBucketsCommand({ MaxBuckets: 2 }));
    expect([first.Buckets!.map((b) => b.Name), typeof first.ContinuationToken]).toEqual([['lb-a1', 'lb-a3'], 'string']);
    const last = await limited.send(new ListBucketsCommand({ MaxBuckets: 2, ContinuationToken: first.ContinuationToken }));
    expect([last.Buckets!.map((b) => b.Name), last.ContinuationToken]).toEqual([['lb-b2'], undefined]);
  });

  it('prefix and bucket-region narrow the list; prefix is echoed (boto3 paginator)', async () => {
    const out = await runPython(`
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], aws_access_key_id='${GW_KEY.accessKeyId}', aws_secret_access_key='${GW_KEY.secretAccessKey}', region_name='eu-west-3', config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
pages = [[b['Name'] for b in p['Buckets']] for p in s3.get_paginator('list_buckets').paginate(Prefix='lb-', PaginationConfig={'PageSize': 2})]
one = s3.list_buckets(Prefix='lb-b')
elsewhere = s3.list_buckets(BucketRegion='us-east-1')
print(json.dumps({'pages': pages, 'prefix': one.get('Prefix'), 'b': [b['Name'] for b in one['Buckets']], 'elsewhere': len(elsewhere['Buckets'])}))
`, { EP: endpoint }, MODERN_PYTHON);
    expect(out).toEqual({ pages: [['lb-a1', 'lb-a2'], ['lb-a3', 'lb-b1'], ['lb-b2', 'lb-c1']], prefix: 'lb-b', b: ['lb-b1', 'lb-b2'], elsewhere: 0 });
  });

  it('refuses max-buckets outside 1-10000 and a token it did not give: 400 InvalidArgument', async () => {
    for (const input of [{ MaxBuckets: 0 }, { MaxBuckets: 10001 }, { ContinuationToken: 'not-ours!' }]) {
      const e = await failure(s3.send(new ListBucketsCommand(input)));
      expect([e.name, e.$metadata.httpStatusCode]).toEqual(['InvalidArgument', 400]);
    }
  });
});

describe('ListBuckets on the local store itself', () => {
  const list = async (q: Record<string, string>) => {
    const r = await store.handle({ method: 'GET', query: new URLSearchParams(q), headers: {}, body: Readable.from([]) });
    const xml = String(r.body);
    return { names: [...xml.matchAll(/<Name>([^<]*)<\/Name>/g)].map((m) => m[1]), token: /<ContinuationToken>([^<]*)</.exec(xml)?.[1] };
  };

  it('pages with max-buckets and continues from its token', async () => {
    const first = await list({ 'max-buckets': '4' });
    expect(first.names).toEqual(NAMES.slice(0, 4));
    expect(await list({ 'max-buckets': '4', 'continuation-token': first.token! })).toEqual({ names: NAMES.slice(4), token: undefined });
    expect((await list({ prefix: 'lb-c' })).names).toEqual(['lb-c1']);
    expect((await list({})).names).toEqual(NAMES);
  });
});
