// Gateway domains where one is a suffix of another (#19 part 4): the Host is the endpoint when it
// is a domain, else a bucket of the longest domain it ends in, whatever the config's order.
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { resolveAddress } from '../../src/addressing/resolve.js';

const DOMAINS = ['localhost', 's3.localhost', 'eu.s3.localhost', 'example.com', 's3.example.com', 'files.s3.example.com'];

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

const configFor = (domains: string[]) => buildConfig({
  listen: [{ address: '127.0.0.1:0' }], domains, keys: [],
  upstreams: { disk: { provider: 'local', path: '/tmp/s3gate-domains-unused' } }, buckets: { '*': { upstream: 'disk' } },
}, '/tmp');

const pairs: [string, string][] = [];
for (const a of DOMAINS) for (const b of DOMAINS) if (b.endsWith('.' + a)) pairs.push([a, b]);

describe('every pair of gateway domains where one ends in the other', () => {
  it('has pairs to test', () => expect(pairs.length).toBe(6));

  it.each(pairs)('%s and %s, in both orders', (short, long) => {
    for (const order of [[short, long], [long, short]]) {
      const cfg = configFor(order);
      expect(resolveAddress(cfg, `${long}:8080`, '/demo/x')).toMatchObject({ style: 'path', bucket: 'demo', key: 'x' });
      expect(resolveAddress(cfg, long, '/')).toMatchObject({ style: 'path' });
      expect(resolveAddress(cfg, long, '/').bucket).toBeUndefined();
      expect(resolveAddress(cfg, `demo.${long}`, '/x')).toMatchObject({ style: 'virtual', bucket: 'demo', key: 'x' });
      expect(resolveAddress(cfg, `my.dotted.${long}`, '/x')).toMatchObject({ style: 'virtual', bucket: 'my.dotted' });
      expect(resolveAddress(cfg, short, '/demo/x')).toMatchObject({ style: 'path', bucket: 'demo', key: 'x' });
      const label = long.slice(0, -(short.length + 1));
      expect(resolveAddress(cfg, `demo.${short}`, '/x')).toMatchObject({ style: 'virtual', bucket: 'demo' });
      // A name between the two that is not itself a domain is a (dotted) bucket of the shorter one.
      expect(resolveAddress(cfg, `other${label}.${short}`, '/x')).toMatchObject({ style: 'virtual', bucket: `other${label}` });
    }
  });

  it('all six domains in every order give the same answers', () => {
    const hosts = DOMAINS.flatMap((d) => [d, `b.${d}`]);
    const expected = hosts.map((h) => resolveAddress(configFor(DOMAINS), h, '/k/x'));
    for (const order of permutations(DOMAINS).filter((_, i) => i % 37 === 0)) {
      const cfg = configFor(order);
      expect(hosts.map((h) => resolveAddress(cfg, h, '/k/x'))).toEqual(expected);
    }
    expect(expected.map((a) => a.bucket)).toEqual(['k', 'b', 'k', 'b', 'k', 'b', 'k', 'b', 'k', 'b', 'k', 'b']);
  });
});
