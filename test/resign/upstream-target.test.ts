// Where an outbound request goes: its origin, the Host that is signed, and the path the key
// follows, per the provider's addressing. They are worked out once per upstream and bucket now
// (resign/request.ts), so they must stay what the endpoint URL says for every bucket, past the
// bound of the kept table too, and the next config's upstreams must get their own.
import { describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { buildConfig } from '../../src/config/load.js';
import { buildOutbound, upstreamTarget } from '../../src/resign/request.js';
import { uriEncode } from '../../src/signing/sigv4.js';

function upstreams(pathEndpoint = 'http://127.0.0.1:9000/base//') {
  const creds = { accessKeyId: 'UPKEY', secretAccessKey: 'up-secret' };
  const cfg = buildConfig({
    listen: [{ address: '127.0.0.1:0' }],
    keys: [{ accessKeyId: 'CLIENTKEY1', secretAccessKey: 'client-secret-0123456789', allow: [{ bucket: '*', actions: ['read'] }] }],
    upstreams: {
      path: { provider: 'minio', endpoint: pathEndpoint, region: 'us-east-1', credentials: creds },
      virtual: { provider: 'aws', endpoint: 'https://s3.eu-west-1.amazonaws.com:8443', region: 'eu-west-1', credentials: creds },
    },
    buckets: { 'some-bucket': { upstream: 'path' } },
  }, tmpdir());
  return { path: cfg.upstreams.get('path')!, virtual: cfg.upstreams.get('virtual')! };
}

describe('upstreamTarget', () => {
  it('gives what the endpoint URL says, for each of 600 buckets in both addressing styles, twice over', () => {
    const { path, virtual } = upstreams();
    expect(path.profile.addressing).toBe('path');
    expect(virtual.profile.addressing).toBe('virtual');
    // 600 names: more than the table keeps, so it is emptied and filled again on the way.
    const buckets = Array.from({ length: 600 }, (_, i) => (i % 3 === 0 ? `bucket-${i}` : i % 3 === 1 ? `b.${i}.x` : `ünï-${i}`));
    for (let round = 0; round < 2; round++) {
      for (const b of buckets) {
        expect(upstreamTarget(path, b)).toEqual({ origin: 'http://127.0.0.1:9000', host: '127.0.0.1:9000', pathPrefix: '/base/' + uriEncode(b, false) });
        expect(upstreamTarget(virtual, b)).toEqual({ origin: `https://${b}.s3.eu-west-1.amazonaws.com:8443`, host: `${b}.s3.eu-west-1.amazonaws.com:8443`, pathPrefix: '' });
      }
    }
    expect(upstreamTarget(path, undefined)).toEqual({ origin: 'http://127.0.0.1:9000', host: '127.0.0.1:9000', pathPrefix: '/base' });
    expect(upstreamTarget(virtual, '')).toEqual({ origin: 'https://s3.eu-west-1.amazonaws.com:8443', host: 's3.eu-west-1.amazonaws.com:8443', pathPrefix: '' });
  });

  it('a reloaded config with another endpoint is sent to the new one', () => {
    expect(upstreamTarget(upstreams().path, 'b').origin).toBe('http://127.0.0.1:9000');
    const moved = upstreams('http://10.0.0.7:9100/other').path;
    expect(upstreamTarget(moved, 'b')).toEqual({ origin: 'http://10.0.0.7:9100', host: '10.0.0.7:9100', pathPrefix: '/other/b' });
  });

  it('buildOutbound puts them on the request, with the key after the prefix', () => {
    const { path, virtual } = upstreams();
    const input = { method: 'GET', upstreamBucket: 'my-bucket', key: 'a b/c', query: [], headers: { 'x-amz-meta-a': '1', host: 'client' } };
    expect(buildOutbound(path, input)).toMatchObject({ origin: 'http://127.0.0.1:9000', host: '127.0.0.1:9000', path: '/base/my-bucket/a%20b/c', headers: { 'x-amz-meta-a': '1' } });
    expect(buildOutbound(virtual, input)).toMatchObject({ origin: 'https://my-bucket.s3.eu-west-1.amazonaws.com:8443', path: '/a%20b/c', bucketInHost: 'my-bucket' });
  });
});
