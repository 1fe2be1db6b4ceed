import type { ProviderProfile } from './provider.js';
import type { StsConfig } from '../sts/types.js';

export type Action = 'read' | 'write' | 'list' | 'delete' | 'admin';
export const ACTIONS: readonly Action[] = ['read', 'write', 'list', 'delete', 'admin'];

/** A grant's bucket with a wildcard in it: grants name one bucket, or every bucket. */
export const GRANT_BUCKET_PATTERN = (bucket: string): string =>
  `"${bucket}" is not a bucket name: a grant names one bucket, or "*" for every bucket (there are no patterns; prefix narrows a grant to keys within its bucket)`;

export interface Grant {
  /** client-side bucket name, or "*" for every bucket */
  bucket: string;
  /** optional key prefix the grant is limited to */
  prefix?: string;
  actions: Action[];
  /**
   * A session policy's grant (src/sts/policy.ts) only: it allows requests whose IAM actions
   * (authorize/iam.ts) are of this kind of resource, a bucket or objects, and, with `only`,
   * among these actions (lower-cased). A configured grant has neither and allows whole classes.
   */
  level?: 'object' | 'bucket';
  only?: string[];
}

export interface Limits {
  /** sustained requests per second (token bucket refill); 0 = unlimited */
  requestsPerSecond: number;
  /** token bucket size */
  burst: number;
  /** requests in flight at once; 0 = unlimited */
  concurrent: number;
}

export interface CorsRule {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

export interface GatewayKey {
  accessKeyId: string;
  secretAccessKey: string;
  allow: Grant[];
  limits?: Limits;
  /** a published demo key: its secret is printed at start-up so a newcomer can use it */
  demo?: boolean;
  /**
   * set on the key a session token stands for (src/sts/inbound.ts); `limitKey` names who the
   * session is (who asked for it, and its role), never its client-chosen name
   */
  session?: { role: string; name: string; expires: number; limitKey: string };
}

export interface Listener {
  host: string;
  port: number;
  /** the files' paths, and their bytes as validated (what the listener serves, even if the files change later) */
  tls?: { cert: string; key: string; pem: { cert: Buffer; key: Buffer } };
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface Upstream {
  name: string;
  /** preset id from config/providers/ */
  provider: string;
  /** the kind of transport: an S3 endpoint over HTTP(S), or the in-process local store */
  kind: 'http' | 'local';
  endpoint: URL;
  region: string;
  credentials: Credentials;
  profile: ProviderProfile;
  /** dial this address instead of resolving the endpoint's host (keeps Host and SNI as they are) */
  connectAddress?: string;
  /** local store root, for kind local */
  path?: string;
  /** upstream timeouts in ms */
  timeouts: { connect: number; headers: number; body: number };
  /** retries of idempotent requests (GET, HEAD, DELETE) before any byte reached the client */
  retries: number;
}

/** Another provider's copy of a bucket: where a migration reads from, or a mirror writes to. */
export interface BucketTarget {
  upstream: string;
  /** provider bucket name; default: the primary's provider bucket name */
  bucket?: string;
}

export interface BucketRoute {
  /** the bucket name clients use, or "*" */
  name: string;
  upstream: string;
  /** the provider's bucket name; for "*" the client's name is used unchanged */
  bucket?: string;
  /**
   * route: one upstream. migrate: reads from `upstream`, falling back to `from` on a miss;
   * writes to `upstream`; deletes to both; listings merged. mirror: writes to both, reads from
   * `upstream`.
   */
  mode: 'route' | 'migrate' | 'mirror';
  /** migrate: the old provider */
  from?: BucketTarget;
  /** mirror: the second provider every write also goes to */
  mirror?: BucketTarget;
  /** migrate: a fallback read also writes the object into `upstream` while it streams */
  copyOnRead?: boolean;
  /** custom domains bound to this bucket (the whole host names the bucket) */
  domains: string[];
  /** anonymous access */
  /**
   * Anonymous requests: `acl` (the default, except on "*") forwards anonymous object reads and
   * listings unsigned, so the provider's ACLs and bucket policy decide; `read`/`list` are granted
   * and signed by s3gate; `none` refuses every anonymous request.
   */
  public?: 'acl' | 'read' | 'list' | 'none';
  /** CORS rules s3gate answers itself (preflight without authentication) */
  cors?: CorsRule[];
}

export interface GatewayConfig {
  listen: Listener[];
  domains: string[];
  region: string;
  /** other region names clients may sign for, taken as `region` (`any`: every name, as RGW does) */
  acceptRegions?: ReadonlySet<string> | 'any';
  keys: Map<string, GatewayKey>;
  upstreams: Map<string, Upstream>;
  buckets: Map<string, BucketRoute>;
  /** client addresses whose X-Forwarded-Host / -Proto are believed */
  trustedProxies: string[];
  log: { level: string };
  /** the admin listener: /metrics, /healthz, /readyz */
  admin?: { host: string; port: number };
  /** per-key limits unless a key sets its own */
  limits: Limits;
  /** client-side timeouts in ms: headers (slowloris), idle socket, and the SIGTERM drain deadline */
  timeouts: { headers: number; idle: number; shutdown: number };
  /** processes serving the listeners (`s3gate serve --workers` wins over it); `auto` is one per CPU */
  workers?: 'auto' | number;
  /** the file this came from, for reloads and relative paths */
  source?: string;
  /** temporary credentials: sealing keys and roles (src/sts/) */
  sts?: StsConfig;
  /** when this config was built: ListBuckets' creation date for a bucket its provider does not list */
  loadedAt?: Date;
  /** `serve --listen` addresses the config was loaded with: a reload keeps them */
  listenFlags?: string[];
}
