// `s3gate presign --post`: the fields of a browser upload form (S3 POST policy) for a key or a
// prefix on s3gate's own domain, signed with one of the gateway's keys, as JSON or as a ready
// HTML page. The gateway verifies the form like any SDK-made one.
import { parseArgs } from 'node:util';
import { allows } from '../authorize/grants.js';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig, GatewayKey } from '../config/types.js';
import { postPolicySignatureV2 } from '../signing/sigv2.js';
import { formatAmzDate, postPolicySignatureV4, uriEncode } from '../signing/sigv4.js';
import { gatewayOrigin } from './presign.js';

export const POST_USAGE = `usage: s3gate presign --post --config proxy.yaml --key ACCESSKEYID [--expires SECONDS] [--host HOST]
                      [--v2] [--max-size BYTES] [--min-size BYTES] [--content-type TYPE]
                      [--redirect URL | --status 200|201|204] [--html] s3://bucket/key

Prints the fields of a browser upload form (an S3 POST policy) for s3gate itself, signed with that
key's secret from the config: JSON {url, fields, expires} by default, a ready HTML page with --html.
A key ending in "/" is a prefix: the browser's file name completes it (\${filename}).

  --max-size B     largest file accepted (content-length-range); K, M, G suffixes; default 5G
  --min-size B     smallest file accepted; default 0
  --content-type T the Content-Type the object gets; a value ending in "/" (image/) lets the page
                   choose any type under it
  --redirect URL   answer a successful upload with a 303 to URL (?bucket=&key=&etag= added)
  --status N       answer 200, 201 (with the PostResponse XML) or 204 (the default)
  --expires S      seconds the form is valid, 1 to 604800 (7 days); default 3600
  --v2             sign with SigV2 (AWSAccessKeyId, signature) instead of SigV4
`;

export class PostUsageError extends Error {}

export interface PostFormOptions {
  expires: number;
  v2?: boolean;
  host?: string;
  minSize?: number;
  maxSize?: number;
  contentType?: string;
  redirect?: string;
  status?: string;
  now?: Date;
}

export interface PostForm {
  url: string;
  fields: Record<string, string>;
  expiresAt: Date;
}

/** The signed fields of a form that uploads to `target` (a key, or a prefix ending in "/"). Pure but for the clock. */
export function presignPost(cfg: GatewayConfig, key: GatewayKey, target: { bucket: string; key: string }, opts: PostFormOptions): PostForm {
  const origin = new URL(gatewayOrigin(cfg, opts.host));
  const now = opts.now ?? new Date();
  const expiresAt = new Date(Math.floor(now.getTime() / 1000) * 1000 + opts.expires * 1000);
  const prefix = target.key.endsWith('/') ? target.key : undefined;
  const fields: Record<string, string> = { key: prefix !== undefined ? `${prefix}\${filename}` : target.key };
  const conditions: unknown[] = [{ bucket: target.bucket }, prefix !== undefined ? ['starts-with', '$key', prefix] : { key: target.key }];
  conditions.push(['content-length-range', opts.minSize ?? 0, opts.maxSize ?? 5 * 1024 ** 3]);
  if (opts.contentType !== undefined) {
    if (opts.contentType.endsWith('/')) conditions.push(['starts-with', '$Content-Type', opts.contentType]);
    else {
      fields['Content-Type'] = opts.contentType;
      conditions.push({ 'Content-Type': opts.contentType });
    }
  }
  if (opts.redirect !== undefined) {
    fields.success_action_redirect = opts.redirect;
    conditions.push({ success_action_redirect: opts.redirect });
  }
  if (opts.status !== undefined) {
    fields.success_action_status = opts.status;
    conditions.push({ success_action_status: opts.status });
  }
  let credentialFields: Record<string, string> = {};
  if (!opts.v2) {
    const amzDate = formatAmzDate(now);
    credentialFields = {
      'x-amz-algorithm': 'AWS4-HMAC-SHA256',
      'x-amz-credential': `${key.accessKeyId}/${amzDate.slice(0, 8)}/${cfg.region}/s3/aws4_request`,
      'x-amz-date': amzDate,
    };
    for (const [n, v] of Object.entries(credentialFields)) conditions.push({ [n]: v });
  }
  const policy = Buffer.from(JSON.stringify({ expiration: expiresAt.toISOString(), conditions }), 'utf8').toString('base64');
  const out: Record<string, string> = { ...fields, ...credentialFields, policy };
  if (opts.v2) {
    Object.assign(out, { AWSAccessKeyId: key.accessKeyId, signature: postPolicySignatureV2(key.secretAccessKey, policy) });
  } else {
    const date = credentialFields['x-amz-date']!.slice(0, 8);
    out['x-amz-signature'] = postPolicySignatureV4(key.secretAccessKey, date, cfg.region, 's3', policy);
  }
  return { url: `${origin.origin}/${uriEncode(target.bucket, false)}`, fields: out, expiresAt };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A complete page: the form, a file input, and the submit button. */
export function postFormHtml(form: PostForm): string {
  const hidden = Object.entries(form.fields).map(([n, v]) => `    <input type="hidden" name="${escapeHtml(n)}" value="${escapeHtml(v)}">`).join('\n');
  return `<!doctype html>
<html>
<head><meta charset="utf-8"><title>Upload</title></head>
<body>
  <!-- valid until ${form.expiresAt.toISOString()}; the file input must stay the last field -->
  <form action="${escapeHtml(form.url)}" method="post" enctype="multipart/form-data">
${hidden}
    <input type="file" name="file">
    <button type="submit">Upload</button>
  </form>
</body>
</html>
`;
}

export function parseSize(s: string, flag: string): number {
  const m = /^(\d+)\s*([KMG]i?B?)?$/i.exec(s.trim());
  if (!m) throw new PostUsageError(`${flag} ${s}: expected a number of bytes, optionally with K, M or G`);
  const unit = (m[2] ?? '').charAt(0).toUpperCase();
  const n = Number(m[1]) * (unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1);
  if (!Number.isSafeInteger(n)) throw new PostUsageError(`${flag} ${s}: too large`);
  return n;
}

const MAX_EXPIRES = 7 * 24 * 3600;

export function presignPostCommand(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        post: { type: 'boolean' },
        config: { type: 'string', short: 'c', default: 'proxy.yaml' },
        key: { type: 'string', short: 'k' },
        expires: { type: 'string', short: 'e', default: '3600' },
        host: { type: 'string' },
        v2: { type: 'boolean' },
        'max-size': { type: 'string' },
        'min-size': { type: 'string' },
        'content-type': { type: 'string' },
        redirect: { type: 'string' },
        status: { type: 'string' },
        html: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (e) {
    throw new PostUsageError(`${(e as Error).message}\n${POST_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(POST_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new PostUsageError(`expected one s3://bucket/key or s3://bucket/prefix/\n${POST_USAGE}`);
  const m = /^s3:\/\/([^/]+)\/(.+)$/s.exec(positionals[0]!);
  if (!m) throw new PostUsageError(`${positionals[0]}: expected s3://bucket/key or s3://bucket/prefix/`);
  const target = { bucket: m[1]!, key: m[2]! };
  const expires = Number(values.expires);
  if (!/^\d+$/.test(values.expires!) || expires < 1 || expires > MAX_EXPIRES) {
    throw new PostUsageError(`--expires ${values.expires}: must be whole seconds from 1 to ${MAX_EXPIRES} (7 days)`);
  }
  if (values.status !== undefined && !['200', '201', '204'].includes(values.status)) throw new PostUsageError(`--status ${values.status}: use 200, 201 or 204`);
  if (values.status !== undefined && values.redirect !== undefined) throw new PostUsageError('--status and --redirect: give one (a redirect answers 303)');
  if (values.redirect !== undefined && !/^https?:\/\/[^/]/i.test(values.redirect)) throw new PostUsageError(`--redirect ${values.redirect}: an http(s) URL`);
  const opts: PostFormOptions = { expires };
  if (values.v2) opts.v2 = true;
  if (values.host) opts.host = values.host;
  if (values['max-size'] !== undefined) opts.maxSize = parseSize(values['max-size'], '--max-size');
  if (values['min-size'] !== undefined) opts.minSize = parseSize(values['min-size'], '--min-size');
  if ((opts.minSize ?? 0) > (opts.maxSize ?? 5 * 1024 ** 3)) throw new PostUsageError('--min-size is larger than --max-size');
  if (values['content-type'] !== undefined) opts.contentType = values['content-type'];
  if (values.redirect !== undefined) opts.redirect = values.redirect;
  if (values.status !== undefined) opts.status = values.status;

  const cfg = loadConfig(values.config!);
  const known = [...cfg.keys.keys()].join(', ') || '(none)';
  if (!values.key) throw new PostUsageError(`--key is required: the gateway key to sign with; known: ${known}`);
  const key = cfg.keys.get(values.key);
  if (!key) throw new PostUsageError(`--key ${values.key}: no such key in keys; known: ${known}`);
  if (!cfg.buckets.has(target.bucket) && !cfg.buckets.has('*')) {
    throw new PostUsageError(`s3://${target.bucket}: no route for bucket ${target.bucket} in buckets; known: ${[...cfg.buckets.keys()].join(', ')}`);
  }
  // A form the gateway will refuse is worse than none: it fails only when someone uploads.
  if (!allows(key, 'write', target.bucket, target.key)) {
    const grants = key.allow.map((g) => `${g.bucket}${g.prefix ? `/${g.prefix}*` : ''} [${g.actions.join(', ')}]`).join('; ') || '(none)';
    throw new PostUsageError(`--key ${key.accessKeyId} may not write s3://${target.bucket}/${target.key}; its grants: ${grants}`);
  }
  const form = presignPost(cfg, key, target, opts);
  if (values.html) process.stdout.write(postFormHtml(form));
  else process.stdout.write(JSON.stringify({ url: form.url, fields: form.fields, expires: form.expiresAt.toISOString() }) + '\n');
  return 0;
}
