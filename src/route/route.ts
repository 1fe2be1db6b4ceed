import type { BucketRoute, GatewayConfig, Upstream } from '../config/types.js';
import { S3Error } from '../s3/errors.js';

export interface Route {
  route: BucketRoute;
  upstream: Upstream;
  /** the client's bucket name */
  clientBucket: string;
  /** the provider's bucket name */
  upstreamBucket: string;
}

/** The configured route for a client bucket; unknown buckets fall to "*" or do not exist. */
export function findRoute(cfg: GatewayConfig, clientBucket: string): Route {
  const route = cfg.buckets.get(clientBucket) ?? cfg.buckets.get('*');
  if (!route) throw new S3Error('NoSuchBucket', undefined, { BucketName: clientBucket });
  const upstream = cfg.upstreams.get(route.upstream);
  if (!upstream) throw new S3Error('InternalError');
  return { route, upstream, clientBucket, upstreamBucket: route.name === '*' ? clientBucket : (route.bucket ?? clientBucket) };
}

/** x-amz-copy-source ("/bucket/key?versionId=..", URL-encoded, leading slash optional). */
export function parseCopySource(value: string): { bucket: string; key: string; rest: string } {
  const v = value.startsWith('/') ? value.slice(1) : value;
  const q = v.indexOf('?');
  const path = q < 0 ? v : v.slice(0, q);
  const rest = q < 0 ? '' : v.slice(q);
  const slash = path.indexOf('/');
  if (slash <= 0) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source' });
  let bucket: string;
  let key: string;
  try {
    bucket = decodeURIComponent(path.slice(0, slash));
    key = decodeURIComponent(path.slice(slash + 1));
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding', { ArgumentName: 'x-amz-copy-source' });
  }
  return { bucket, key, rest };
}
