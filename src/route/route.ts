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
