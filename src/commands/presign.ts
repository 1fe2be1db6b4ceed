// `s3gate presign`: a presigned URL on s3gate's own domain, signed with one of the gateway's keys,
// so an operator can hand out a link without an SDK. The gateway verifies it like any client's.
import { parseArgs } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { allows } from '../authorize/grants.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Action, GatewayConfig, GatewayKey } from '../config/types.js';
import { presignV2 } from '../signing/sigv2.js';
import { uriEncode } from '../signing/sigv4.js';
import { presignPostCommand, PostUsageError } from './presign-post.js';

const USAGE = `usage: s3gate presign --config proxy.yaml --key ACCESSKEYID [--method GET|PUT|HEAD|DELETE]
                      [--expires SECONDS] [--host HOST] [--v2] [--json] s3://bucket/key

Prints a presigned URL for s3gate itself (path-style), signed with that key's secret from the
config: SigV4 query auth by default, SigV2 (AWSAccessKeyId/Expires/Signature) with --v2.

  --method M       GET (default), PUT, HEAD or DELETE; also accepted as a bare word before the URL
  --expires S      seconds the URL is valid, 1 to 604800 (7 days); default 3600
  --host HOST      the name clients reach s3gate by, default the first of domains with the first
                   listener's port; a full origin (https://s3.example.com) also sets the scheme,
                   e.g. when a load balancer terminates TLS in front of s3gate
  --post           a browser upload form (POST policy) instead of a URL: see presign --post --help
`;

const METHODS: Record<string, Action> = { GET: 'read', HEAD: 'read', PUT: 'write', DELETE: 'delete' };
const MAX_EXPIRES = 7 * 24 * 3600;

class UsageError extends Error {}

export function parseS3Url(s: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/s.exec(s);
  if (!m) throw new UsageError(`${s}: expected s3://bucket/key`);
  return { bucket: m[1]!, key: m[2]! };
}

/** The origin clients use: --host, else the first gateway domain, with the first listener's scheme and port. */
export function gatewayOrigin(cfg: GatewayConfig, host?: string): string {
  const l = cfg.listen[0]!;
  if (host && /^https?:\/\//i.test(host)) {
    let u: URL;
    try {
      u = new URL(host);
    } catch {
      throw new UsageError(`--host ${host}: not a valid origin`);
    }
    if (u.pathname !== '/' || u.search) throw new UsageError(`--host ${host}: give only scheme, name and port`);
    return u.origin;
  }
  const scheme = l.tls ? 'https' : 'http';
  let name = host;
  if (!name) {
    name = cfg.domains[0];
    // A wildcard listen address is not a name anyone can reach.
    if (!name && l.host !== '0.0.0.0' && l.host !== '::') name = l.host.includes(':') ? `[${l.host}]` : l.host;
    if (!name) throw new UsageError('the config has no domains and listens on all addresses: pass --host with the name clients use');
  }
  if (/:\d+$/.test(name) && !name.endsWith(']')) return `${scheme}://${name}`;
  const defaultPort = scheme === 'https' ? 443 : 80;
  return `${scheme}://${name}${l.port === defaultPort ? '' : `:${l.port}`}`;
}

function findKey(cfg: GatewayConfig, id: string | undefined): GatewayKey {
  const known = [...cfg.keys.keys()].join(', ') || '(none)';
  if (!id) throw new UsageError(`--key is required: the gateway key to sign with; known: ${known}`);
  const key = cfg.keys.get(id);
  if (!key) throw new UsageError(`--key ${id}: no such key in keys; known: ${known}`);
  return key;
}

export interface PresignOptions {
  method: string;
  expires: number;
  v2?: boolean;
  host?: string;
  now?: Date;
}

export async function presignUrl(cfg: GatewayConfig, key: GatewayKey, target: { bucket: string; key: string }, opts: PresignOptions): Promise<{ url: string; expiresAt: Date }> {
  const origin = new URL(gatewayOrigin(cfg, opts.host));
  const path = `/${uriEncode(target.bucket, false)}/${uriEncode(target.key, true)}`;
  const now = opts.now ?? new Date();
  const creds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  if (opts.v2) {
    const expires = Math.floor(now.getTime() / 1000) + opts.expires;
    const params = presignV2({ method: opts.method, path, query: '' }, creds, expires);
    return { url: `${origin.origin}${path}?${new URLSearchParams(params).toString()}`, expiresAt: new Date(expires * 1000) };
  }
  const signer = new SignatureV4({
    credentials: creds, region: cfg.region, service: 's3', sha256: Sha256,
    // The path is encoded above exactly once, which is what S3's canonical URI expects.
    uriEscapePath: false, applyChecksum: false,
  });
  const signed = await signer.presign(
    {
      method: opts.method,
      protocol: origin.protocol,
      hostname: origin.hostname,
      ...(origin.port ? { port: Number(origin.port) } : {}),
      path,
      query: {},
      // Whoever opens the link sends a body s3gate cannot know in advance: the canonical payload
      // hash must be UNSIGNED-PAYLOAD, which smithy takes from this header (and hoists to the query).
      headers: { host: origin.host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
    },
    { expiresIn: opts.expires, signingDate: now },
  );
  const q = Object.entries(signed.query ?? {})
    .flatMap(([n, v]) => (Array.isArray(v) ? v : [v ?? '']).map((x) => `${uriEncode(n, false)}=${uriEncode(x, false)}`))
    .join('&');
  const date = new Date(now.getTime() - (now.getTime() % 1000));
  return { url: `${origin.origin}${path}?${q}`, expiresAt: new Date(date.getTime() + opts.expires * 1000) };
}

export async function run(argv: string[]): Promise<number> {
  try {
    return await presign(argv);
  } catch (e) {
    if (e instanceof UsageError || e instanceof PostUsageError) {
      process.stderr.write(`s3gate presign: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`s3gate: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

async function presign(argv: string[]): Promise<number> {
  if (argv.includes('--post')) return presignPostCommand(argv);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c', default: 'proxy.yaml' },
        key: { type: 'string', short: 'k' },
        method: { type: 'string', short: 'm' },
        expires: { type: 'string', short: 'e', default: '3600' },
        host: { type: 'string' },
        v2: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const words = [...positionals];
  let method = values.method?.toUpperCase();
  if (words.length === 2 && METHODS[words[0]!.toUpperCase()]) {
    const m = words.shift()!.toUpperCase();
    if (method && method !== m) throw new UsageError(`--method ${method} and ${m} disagree`);
    method = m;
  }
  method ??= 'GET';
  if (!METHODS[method]) throw new UsageError(`--method ${method}: use one of ${Object.keys(METHODS).join(', ')}`);
  if (words.length !== 1) throw new UsageError(`expected one s3://bucket/key\n${USAGE}`);
  const target = parseS3Url(words[0]!);
  const expires = Number(values.expires);
  if (!/^\d+$/.test(values.expires!) || expires < 1 || expires > MAX_EXPIRES) {
    throw new UsageError(`--expires ${values.expires}: must be whole seconds from 1 to ${MAX_EXPIRES} (7 days, S3's limit)`);
  }

  const cfg = loadConfig(values.config!);
  const key = findKey(cfg, values.key);
  if (!cfg.buckets.has(target.bucket) && !cfg.buckets.has('*')) {
    throw new UsageError(`s3://${target.bucket}: no route for bucket ${target.bucket} in buckets; known: ${[...cfg.buckets.keys()].join(', ')}`);
  }
  // A link the gateway will refuse is worse than no link: it fails only when someone opens it.
  const action = METHODS[method]!;
  if (!allows(key, action, target.bucket, target.key)) {
    const grants = key.allow.map((g) => `${g.bucket}${g.prefix ? `/${g.prefix}*` : ''} [${g.actions.join(', ')}]`).join('; ') || '(none)';
    throw new UsageError(`--key ${key.accessKeyId} may not ${action} s3://${target.bucket}/${target.key} (${method}); its grants: ${grants}`);
  }
  const { url, expiresAt } = await presignUrl(cfg, key, target, { method, expires, ...(values.v2 ? { v2: true } : {}), ...(values.host ? { host: values.host } : {}) });
  if (values.json) {
    process.stdout.write(JSON.stringify({ url, method, signature: values.v2 ? 'v2' : 'v4', expires: expiresAt.toISOString() }) + '\n');
  } else {
    process.stdout.write(url + '\n');
  }
  return 0;
}
