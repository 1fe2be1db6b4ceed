// Reads proxy.yaml into a validated GatewayConfig. Every problem is reported with the path of
// the field it concerns (`buckets.media.upstream: ...`) and start-up stops before any socket
// opens. Secret values are never echoed: messages name the variable or file, not its content.
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { oneByte, oneByteStrings } from './one-byte.js';
import type { ProviderProfile } from './provider.js';
import { parseStsConfig } from '../sts/config.js';
import { ACTIONS, GRANT_BUCKET_PATTERN, type Action, type BucketRoute, type BucketTarget, type CorsRule, type Limits, type GatewayConfig, type GatewayKey, type Grant, type Listener, type Upstream } from './types.js';
import { parseWorkers, WORKERS_EXPECTED } from '../workers/count.js';
import { SUBRESOURCES } from '../authorize/operation.js';
import { checkCaBundle, checkListenerPair, isProblem } from './tls-files.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** config/providers/ of this package, whether running from src/ or dist/. */
export const PROVIDERS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../config/providers');

type Obj = Record<string, unknown>;

// `${VAR}` is not a plain YAML scalar inside a flow mapping (`{ key: ${VAR} }` is a parse error),
// yet that is how people write it. References are swapped for a bracket form YAML reads as
// text before parsing, and expanded per field afterwards, so a secret's value never passes
// through the YAML parser (where a quote or '#' in it could change the document).
const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*(?::-[^}\n]*)?|file:[^}\n]+)\}/g;
const REF_TOKEN = /\$\u27e6([^\u27e7]+)\u27e7/g;

export function protectReferences(yamlText: string): string {
  return yamlText.replace(REF, (_m, ref: string) => `$\u27e6${ref}\u27e7`);
}
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  readonly problems: string[] = [];
  constructor(private readonly baseDir: string, private readonly env: NodeJS.ProcessEnv) {}

  fail(path: string, msg: string): undefined {
    this.problems.push(`${path}: ${msg}`);
    return undefined;
  }

  /** ${VAR} or ${VAR:-default} from the environment, ${file:path} from a file (trailing newline dropped). */
  expand(path: string, v: string): string | undefined {
    let bad = false;
    const out = v.replace(REF_TOKEN, (_m, ref: string) => {
      if (ref.startsWith('file:')) {
        const file = this.path(ref.slice(5));
        try {
          return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
        } catch {
          bad = true;
          this.fail(path, `cannot read secret file ${file}`);
          return '';
        }
      }
      const dflt = ref.indexOf(':-');
      const name = dflt >= 0 ? ref.slice(0, dflt) : ref;
      const val = this.env[name] || (dflt >= 0 ? ref.slice(dflt + 2) : undefined);
      if (val === undefined || val === '') {
        bad = true;
        this.fail(path, `environment variable ${name} is not set`);
        return '';
      }
      return val;
    });
    return bad ? undefined : oneByte(out);
  }

  path(p: string): string {
    return isAbsolute(p) ? p : join(this.baseDir, p);
  }

  str(obj: Obj, key: string, path: string, opts: { optional?: boolean; secret?: boolean } = {}): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return opts.optional ? undefined : this.fail(`${path}.${key}`, 'is required');
    if (typeof v !== 'string' && typeof v !== 'number') return this.fail(`${path}.${key}`, 'must be a string');
    const s = this.expand(`${path}.${key}`, String(v));
    if (s === undefined) return undefined;
    if (s === '' && !opts.optional) return this.fail(`${path}.${key}`, 'must not be empty');
    return s;
  }

  strList(obj: Obj, key: string, path: string): string[] {
    const v = obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      this.fail(`${path}.${key}`, 'must be a list of strings');
      return [];
    }
    return v as string[];
  }

  num(obj: Obj, key: string, path: string, dflt: number, min = 0): number {
    const v = obj[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      this.fail(`${path}.${key}`, `must be a number ≥ ${min}`);
      return dflt;
    }
    return v;
  }

  unknown(obj: Obj, allowed: string[], path: string): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) this.fail(`${path}.${k}`, `unknown field; known: ${allowed.join(', ')}`);
    }
  }
}

export function loadPreset(name: string, dir = PROVIDERS_DIR): ProviderProfile | undefined {
  const file = join(dir, `${name}.yaml`);
  if (!existsSync(file)) return undefined;
  const data = oneByteStrings(parseYaml(readFileSync(file, 'utf8'))) as ProviderProfile;
  return { ...data, name };
}

export function presetNames(dir = PROVIDERS_DIR): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
  } catch {
    return [];
  }
}

function deepMerge<T>(base: T, over: unknown): T {
  if (!isObj(base) || !isObj(over)) return (over === undefined ? base : over) as T;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge((base as Obj)[k], v);
  return out as T;
}

const PROFILE_FIELDS = ['addressing', 'signing', 'payload', 'checksums', 'conditionalWrites', 'copySourceConditions', 'cannedAcls', 'unknownSubresources', 'listingEncodesKeysOnly', 'tls'];

function checkUnknownSubresources(c: Checker, raw: unknown, path: string): void {
  if (raw === undefined) return;
  if (!isObj(raw)) {
    c.fail(path, 'must be a mapping with bucket and/or object lists');
    return;
  }
  c.unknown(raw, ['bucket', 'object'], path);
  for (const level of ['bucket', 'object'] as const) {
    const list = raw[level];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      c.fail(`${path}.${level}`, 'must be a list of sub-resource names');
      continue;
    }
    for (const name of list) {
      if (typeof name !== 'string' || !SUBRESOURCES.has(name)) c.fail(`${path}.${level}`, `"${String(name)}" is not an S3 sub-resource; known: ${[...SUBRESOURCES].join(', ')}`);
    }
  }
}

function parseAddress(c: Checker, addr: string, path: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(addr);
  if (!m || +m[2]! > 65535) return c.fail(path, `"${addr}" is not host:port`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: +m[2]! };
}

function parseLimits(c: Checker, raw: unknown, path: string, dflt: Limits): Limits {
  if (raw === undefined) return dflt;
  if (!isObj(raw)) return c.fail(path, 'must be a mapping') ?? dflt;
  c.unknown(raw, ['requestsPerSecond', 'burst', 'concurrent'], path);
  const requestsPerSecond = c.num(raw, 'requestsPerSecond', path, dflt.requestsPerSecond);
  return { requestsPerSecond, burst: c.num(raw, 'burst', path, raw.burst === undefined ? Math.max(1, requestsPerSecond) : dflt.burst, 1), concurrent: c.num(raw, 'concurrent', path, dflt.concurrent) };
}

function parseCors(c: Checker, raw: unknown, path: string): CorsRule[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) return c.fail(path, 'must be a list of rules');
  const out: CorsRule[] = [];
  raw.forEach((r, i) => {
    const rp = `${path}[${i}]`;
    if (!isObj(r)) return c.fail(rp, 'must be a mapping');
    c.unknown(r, ['allowedOrigins', 'allowedMethods', 'allowedHeaders', 'exposeHeaders', 'maxAgeSeconds'], rp);
    const allowedOrigins = c.strList(r, 'allowedOrigins', rp);
    const allowedMethods = c.strList(r, 'allowedMethods', rp).map((m) => m.toUpperCase());
    if (!allowedOrigins.length) c.fail(`${rp}.allowedOrigins`, 'must list at least one origin (or "*")');
    if (!allowedMethods.length) c.fail(`${rp}.allowedMethods`, 'must list at least one of GET, PUT, POST, DELETE, HEAD');
    const maxAge = r.maxAgeSeconds === undefined ? undefined : c.num(r, 'maxAgeSeconds', rp, 0);
    out.push({
      allowedOrigins, allowedMethods,
      allowedHeaders: c.strList(r, 'allowedHeaders', rp).map((h) => h.toLowerCase()),
      exposeHeaders: c.strList(r, 'exposeHeaders', rp),
      ...(maxAge !== undefined ? { maxAgeSeconds: maxAge } : {}),
    });
  });
  return out;
}

function parseListen(c: Checker, raw: unknown): Listener[] {
  if (raw === undefined) return [{ host: '127.0.0.1', port: 8080 }];
  if (!Array.isArray(raw) || raw.length === 0) return c.fail('listen', 'must be a non-empty list') ?? [];
  const out: Listener[] = [];
  raw.forEach((l, i) => {
    const path = `listen[${i}]`;
    if (!isObj(l)) return c.fail(path, 'must be a mapping with an address');
    c.unknown(l, ['address', 'tls'], path);
    const addr = c.str(l, 'address', path);
    if (!addr) return;
    const hp = parseAddress(c, addr, `${path}.address`);
    if (!hp) return;
    const listener: Listener = { ...hp };
    if (l.tls !== undefined) {
      if (!isObj(l.tls)) return c.fail(`${path}.tls`, 'must have cert and key');
      const cert = c.str(l.tls, 'cert', `${path}.tls`);
      const key = c.str(l.tls, 'key', `${path}.tls`);
      if (cert && key) {
        let found = true;
        for (const [f, p] of [['cert', cert], ['key', key]] as const) {
          if (!existsSync(c.path(p))) found = c.fail(`${path}.tls.${f}`, `file ${c.path(p)} not found`) ?? false;
        }
        if (!found) return;
        const pair = checkListenerPair(c.path(cert), c.path(key));
        if (isProblem(pair)) return c.fail(`${path}.tls.${pair.field}`, pair.message);
        listener.tls = { cert: c.path(cert), key: c.path(key), pem: pair };
      }
    }
    out.push(listener);
  });
  return out;
}

function parseKeys(c: Checker, raw: unknown, bucketNames: Set<string>, defaults: Limits): Map<string, GatewayKey> {
  const keys = new Map<string, GatewayKey>();
  if (raw === undefined) return keys;
  if (!Array.isArray(raw)) return c.fail('keys', 'must be a list') ?? keys;
  raw.forEach((k, i) => {
    const path = `keys[${i}]`;
    if (!isObj(k)) return c.fail(path, 'must be a mapping');
    c.unknown(k, ['accessKeyId', 'secretAccessKey', 'allow', 'demo', 'limits'], path);
    const limits = k.limits === undefined ? undefined : parseLimits(c, k.limits, `${path}.limits`, defaults);
    const id = c.str(k, 'accessKeyId', path);
    const secret = c.str(k, 'secretAccessKey', path, { secret: true });
    if (id && !/^[A-Za-z0-9._-]{3,128}$/.test(id)) c.fail(`${path}.accessKeyId`, 'use 3-128 letters, digits, dot, dash or underscore');
    if (id && keys.has(id)) c.fail(`${path}.accessKeyId`, `duplicate key id ${id}`);
    const allow: Grant[] = [];
    if (!Array.isArray(k.allow)) c.fail(`${path}.allow`, 'must be a list of grants');
    else
      k.allow.forEach((g, j) => {
        const gp = `${path}.allow[${j}]`;
        if (!isObj(g)) return c.fail(gp, 'must be a mapping');
        c.unknown(g, ['bucket', 'prefix', 'actions'], gp);
        const bucket = c.str(g, 'bucket', gp);
        // A "*" route makes any name a known bucket, so "photos-*" would pass below and match no bucket.
        if (bucket && bucket !== '*' && bucket.includes('*')) c.fail(`${gp}.bucket`, GRANT_BUCKET_PATTERN(bucket));
        else if (bucket && bucket !== '*' && !bucketNames.has(bucket) && !bucketNames.has('*')) {
          c.fail(`${gp}.bucket`, `no bucket "${bucket}"; known: ${[...bucketNames].join(', ') || '(none)'}`);
        }
        const prefix = c.str(g, 'prefix', gp, { optional: true });
        // A blank prefix would grant the whole bucket: that must be said by leaving prefix out.
        if (g.prefix === null || (prefix !== undefined && prefix.trim() === '')) c.fail(`${gp}.prefix`, 'must not be empty; leave prefix out to grant the whole bucket');
        const actions = c.strList(g, 'actions', gp);
        if (actions.length === 0) c.fail(`${gp}.actions`, `must list at least one of ${ACTIONS.join(', ')}`);
        for (const a of actions) if (!ACTIONS.includes(a as Action)) c.fail(`${gp}.actions`, `unknown action "${a}"; known: ${ACTIONS.join(', ')}`);
        if (bucket) allow.push({ bucket, ...(prefix ? { prefix } : {}), actions: actions as Action[] });
      });
    if (k.demo !== undefined && typeof k.demo !== 'boolean') c.fail(`${path}.demo`, 'must be true or false');
    if (id && secret) keys.set(id, { accessKeyId: id, secretAccessKey: secret, allow, ...(k.demo === true ? { demo: true } : {}), ...(limits ? { limits } : {}) });
  });
  return keys;
}

function parseUpstreams(c: Checker, raw: unknown, presetsDir: string): Map<string, Upstream> {
  const ups = new Map<string, Upstream>();
  if (!isObj(raw) || Object.keys(raw).length === 0) return c.fail('upstreams', 'must name at least one upstream') ?? ups;
  const known = presetNames(presetsDir);
  for (const [name, u] of Object.entries(raw)) {
    const path = `upstreams.${name}`;
    if (!isObj(u)) {
      c.fail(path, 'must be a mapping');
      continue;
    }
    c.unknown(u, ['provider', 'endpoint', 'region', 'credentials', 'path', 'connectAddress', 'timeouts', 'retries', ...PROFILE_FIELDS], path);
    const provider = c.str(u, 'provider', path);
    if (!provider) continue;
    const preset = loadPreset(provider, presetsDir);
    if (!preset) {
      c.fail(`${path}.provider`, `no preset "${provider}"; known: ${known.join(', ')}`);
      continue;
    }
    const overrides: Obj = {};
    for (const f of PROFILE_FIELDS) if (u[f] !== undefined) overrides[f] = u[f];
    const profile = deepMerge(preset, overrides);
    if (profile.addressing !== 'path' && profile.addressing !== 'virtual') c.fail(`${path}.addressing`, 'must be path or virtual');
    if (typeof profile.conditionalWrites?.ifNoneMatch !== 'boolean') c.fail(`${path}.conditionalWrites.ifNoneMatch`, 'must be true or false');
    const ifMatch = profile.conditionalWrites?.ifMatch;
    if (typeof ifMatch !== 'boolean' && ifMatch !== 'unquoted') c.fail(`${path}.conditionalWrites.ifMatch`, 'must be true, false or unquoted');
    for (const k of ['onComplete', 'onCopy', 'onDelete'] as const) {
      const v = profile.conditionalWrites?.[k];
      if (v !== undefined && typeof v !== 'boolean') c.fail(`${path}.conditionalWrites.${k}`, 'must be true or false');
    }
    if (profile.copySourceConditions !== undefined && profile.copySourceConditions !== 's3' && profile.copySourceConditions !== 'rgw') c.fail(`${path}.copySourceConditions`, 'must be s3 or rgw');
    if (typeof profile.cannedAcls !== 'boolean') c.fail(`${path}.cannedAcls`, 'must be true or false');
    if (profile.listingEncodesKeysOnly !== undefined && typeof profile.listingEncodesKeysOnly !== 'boolean') c.fail(`${path}.listingEncodesKeysOnly`, 'must be true or false');
    checkUnknownSubresources(c, profile.unknownSubresources, `${path}.unknownSubresources`);
    const kind = provider === 'local' ? 'local' : 'http';
    let endpoint: URL | undefined;
    let localPath: string | undefined;
    if (kind === 'local') {
      const p = c.str(u, 'path', path);
      if (p) localPath = c.path(p);
      endpoint = new URL('http://local.invalid');
    } else {
      const e = c.str(u, 'endpoint', path);
      if (e) {
        try {
          endpoint = new URL(e);
          if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') throw new Error();
        } catch {
          c.fail(`${path}.endpoint`, `"${e}" is not an http(s) URL`);
        }
      }
    }
    const region = c.str(u, 'region', path, { optional: true }) ?? profile.region ?? 'us-east-1';
    let credentials = { accessKeyId: '', secretAccessKey: '' };
    if (kind === 'http') {
      if (!isObj(u.credentials)) c.fail(`${path}.credentials`, 'is required (accessKeyId, secretAccessKey)');
      else {
        c.unknown(u.credentials, ['accessKeyId', 'secretAccessKey'], `${path}.credentials`);
        credentials = {
          accessKeyId: c.str(u.credentials, 'accessKeyId', `${path}.credentials`) ?? '',
          secretAccessKey: c.str(u.credentials, 'secretAccessKey', `${path}.credentials`, { secret: true }) ?? '',
        };
      }
    }
    const t = isObj(u.timeouts) ? u.timeouts : {};
    const num = (k: string, d: number) => (typeof t[k] === 'number' ? (t[k] as number) : d);
    if (endpoint) {
      const up: Upstream = {
        name, provider, kind, endpoint, region, credentials, profile,
        timeouts: { connect: num('connect', 10_000), headers: num('headers', 300_000), body: num('body', 300_000) },
        retries: c.num(u, 'retries', path, 2),
      };
      const ca = c.str(u, 'connectAddress', path, { optional: true });
      if (ca) up.connectAddress = ca;
      if (localPath) up.path = localPath;
      if (profile.tls?.ca) {
        profile.tls.ca = c.path(profile.tls.ca);
        const bad = checkCaBundle(profile.tls.ca);
        if (bad) c.fail(`${path}.tls.ca`, bad);
      }
      ups.set(name, up);
    }
  }
  return ups;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.\-_]{1,254}$/;

function parseBuckets(c: Checker, raw: unknown, upstreams: Map<string, Upstream>, declared: Set<string>): Map<string, BucketRoute> {
  const buckets = new Map<string, BucketRoute>();
  if (!isObj(raw) || Object.keys(raw).length === 0) return c.fail('buckets', 'must route at least one bucket (or "*")') ?? buckets;
  for (const [name, b] of Object.entries(raw)) {
    const path = `buckets.${name}`;
    if (!isObj(b)) {
      c.fail(path, 'must be a mapping');
      continue;
    }
    if (name !== '*' && !BUCKET_NAME.test(name)) c.fail(path, 'is not a valid S3 bucket name');
    c.unknown(b, ['upstream', 'bucket', 'domains', 'public', 'mode', 'from', 'mirror', 'copyOnRead', 'cors'], path);
    const cors = parseCors(c, b.cors, `${path}.cors`);
    const mode = (c.str(b, 'mode', path, { optional: true }) ?? 'route') as BucketRoute['mode'];
    if (!['route', 'migrate', 'mirror'].includes(mode)) c.fail(`${path}.mode`, 'must be route, migrate or mirror');
    const targetOf = (field: "from" | "mirror"): BucketTarget | undefined => {
      const t = b[field];
      if (t === undefined) return undefined;
      if (!isObj(t)) return c.fail(`${path}.${field}`, 'must be a mapping with upstream (and bucket)');
      c.unknown(t, ['upstream', 'bucket'], `${path}.${field}`);
      const u = c.str(t, 'upstream', `${path}.${field}`);
      if (u && !upstreams.has(u)) return declared.has(u) ? undefined : c.fail(`${path}.${field}.upstream`, `no upstream "${u}"; known: ${[...declared].join(', ') || '(none)'}`);
      const tb = c.str(t, 'bucket', `${path}.${field}`, { optional: true });
      return u ? { upstream: u, ...(tb ? { bucket: tb } : {}) } : undefined;
    };
    const from = targetOf("from");
    const mirror = targetOf("mirror");
    if (mode === 'migrate' && !from && b.from === undefined) c.fail(`${path}.from`, 'is required with mode: migrate (the old provider)');
    if (mode === 'mirror' && !mirror && b.mirror === undefined) c.fail(`${path}.mirror`, 'is required with mode: mirror');
    if (mode !== 'migrate' && b.from !== undefined) c.fail(`${path}.from`, 'only applies to mode: migrate');
    if (mode !== 'mirror' && b.mirror !== undefined) c.fail(`${path}.mirror`, 'only applies to mode: mirror');
    if (b.copyOnRead !== undefined && typeof b.copyOnRead !== 'boolean') c.fail(`${path}.copyOnRead`, 'must be true or false');
    if (b.copyOnRead !== undefined && mode !== 'migrate') c.fail(`${path}.copyOnRead`, 'only applies to mode: migrate');
    if (name === '*' && mode !== 'route') c.fail(`${path}.mode`, 'the "*" route only supports mode: route');
    const upstream = c.str(b, 'upstream', path);
    if (upstream && !upstreams.has(upstream) && !declared.has(upstream)) {
      c.fail(`${path}.upstream`, `no upstream "${upstream}"; known: ${[...declared].join(', ') || '(none)'}`);
    }
    const target = c.str(b, 'bucket', path, { optional: true });
    if (name === '*' && target) c.fail(`${path}.bucket`, 'the "*" route keeps client bucket names; remove this field');
    const pub = c.str(b, 'public', path, { optional: true });
    if (pub && !['acl', 'read', 'list', 'none'].includes(pub)) c.fail(`${path}.public`, 'must be acl, read, list or none');
    const domains = c.strList(b, 'domains', path).map((d) => d.toLowerCase());
    if (upstream) {
      buckets.set(name, {
        name, upstream, domains, mode,
        ...(from ? { from } : {}), ...(mirror ? { mirror } : {}), ...(b.copyOnRead === true ? { copyOnRead: true } : {}),
        ...(cors ? { cors } : {}),
        ...(target ? { bucket: target } : {}),
        ...(pub ? { public: pub as 'acl' | 'read' | 'list' | 'none' } : {}),
      });
    }
  }
  return buckets;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  presetsDir?: string;
  /** `serve --listen HOST:PORT`, repeatable: plain HTTP listeners in place of the file's `listen` */
  listen?: string[];
}

function listenFlags(c: Checker, flags: string[]): Listener[] {
  const out: Listener[] = [];
  for (const f of flags) {
    const hp = parseAddress(c, f, '--listen');
    if (hp) out.push(hp);
  }
  return out;
}

/** Validates an already-parsed YAML document. `baseDir` resolves relative file paths. */
export function buildConfig(doc: unknown, baseDir: string, opts: LoadOptions = {}): GatewayConfig {
  const c = new Checker(baseDir, opts.env ?? process.env);
  if (!isObj(doc)) throw new ConfigError(['(root): the config must be a YAML mapping']);
  c.unknown(doc, ['listen', 'domains', 'region', 'acceptRegions', 'keys', 'upstreams', 'buckets', 'trustedProxies', 'log', 'admin', 'limits', 'timeouts', 'roles', 'sts', 'workers'], '(root)');
  const listen = opts.listen?.length ? listenFlags(c, opts.listen) : parseListen(c, doc.listen);
  const domains = c.strList(doc, 'domains', '(root)').map((d) => d.toLowerCase());
  const region = c.str(doc, 'region', '(root)', { optional: true }) ?? 'us-east-1';
  const acceptRegions = parseAcceptRegions(c, doc.acceptRegions);
  const upstreams = parseUpstreams(c, doc.upstreams, opts.presetsDir ?? PROVIDERS_DIR);
  // An upstream that is declared but failed has its own error: buckets naming it add none.
  const declared = new Set(isObj(doc.upstreams) ? Object.keys(doc.upstreams) : []);
  const buckets = parseBuckets(c, doc.buckets, upstreams, declared);
  const limits = parseLimits(c, doc.limits, 'limits', { requestsPerSecond: 0, burst: 1, concurrent: 0 });
  const keys = parseKeys(c, doc.keys, new Set(buckets.keys()), limits);
  const sts = parseStsConfig(c, doc, keys, new Set(buckets.keys()), (raw, path) => parseCors(c, raw, path));
  let admin: { host: string; port: number } | undefined;
  if (doc.admin !== undefined) {
    if (!isObj(doc.admin)) c.fail('admin', 'must be a mapping with an address');
    else {
      c.unknown(doc.admin, ['address'], 'admin');
      const a = c.str(doc.admin, 'address', 'admin');
      if (a) admin = parseAddress(c, a, 'admin.address');
    }
  }
  const t = isObj(doc.timeouts) ? doc.timeouts : {};
  if (doc.timeouts !== undefined) c.unknown(t, ['headers', 'idle', 'shutdown'], 'timeouts');
  const timeouts = { headers: c.num(t, 'headers', 'timeouts', 20_000, 1), idle: c.num(t, 'idle', 'timeouts', 120_000, 1), shutdown: c.num(t, 'shutdown', 'timeouts', 30_000) };
  const trustedProxies = c.strList(doc, 'trustedProxies', '(root)');
  const workersText = c.str(doc, 'workers', '(root)', { optional: true });
  const workers = workersText === undefined ? undefined : parseWorkers(workersText);
  if (workersText !== undefined && workers === undefined) c.fail('workers', `must be ${WORKERS_EXPECTED}, not "${workersText}"`);
  const log = isObj(doc.log) && typeof doc.log.level === 'string' ? { level: doc.log.level } : { level: 'info' };

  const seen = new Map<string, string>();
  for (const b of buckets.values()) {
    for (const d of b.domains) {
      if (seen.has(d)) c.fail(`buckets.${b.name}.domains`, `${d} is already bound to bucket ${seen.get(d)}`);
      if (domains.includes(d)) c.fail(`buckets.${b.name}.domains`, `${d} is also a gateway domain in domains`);
      seen.set(d, b.name);
    }
  }
  if (c.problems.length) throw new ConfigError(c.problems);
  return { listen, domains, region, keys, upstreams, buckets, trustedProxies, log, limits, timeouts, loadedAt: new Date(), ...(acceptRegions ? { acceptRegions } : {}), ...(admin ? { admin } : {}), ...(sts ? { sts } : {}), ...(workers ? { workers } : {}) };
}

const REGION_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** `acceptRegions`: `"*"` (every name) or a list of region names, never an empty one. */
function parseAcceptRegions(c: Checker, raw: unknown): ReadonlySet<string> | 'any' | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (raw === '*') return 'any';
  if (!Array.isArray(raw) || raw.some((x) => typeof x !== 'string')) {
    c.fail('acceptRegions', 'must be "*" or a list of region names');
    return undefined;
  }
  if (raw.includes('*')) return 'any';
  for (const r of raw as string[]) if (!REGION_NAME.test(r)) c.fail('acceptRegions', `"${r}" is not a region name (lower-case letters, digits and '-')`);
  return raw.length ? new Set(raw as string[]) : undefined;
}

export function loadConfig(file: string, opts: LoadOptions = {}): GatewayConfig {
  // An editor or `kubectl cp` writing in place can be caught halfway, and half a YAML file is
  // often still valid YAML (a key list cut short). So the file is read again once the config is
  // built and must not have changed: a config is only ever loaded from bytes that were the
  // whole file at both reads. A write in progress refuses the load; its end reloads again.
  for (let attempt = 1; ; attempt++) {
    const text = readConfigText(file);
    let doc: unknown;
    try {
      doc = oneByteStrings(parseYaml(protectReferences(text)));
    } catch (e) {
      if (readConfigText(file) !== text && attempt < STABLE_READS) continue;
      // The parser's message ends with the offending line and a caret under the column: keep it.
      throw new ConfigError([`${file}: not valid YAML: ${(e as Error).message.trimEnd()}`]);
    }
    const cfg = buildConfig(doc, dirname(resolve(file)), opts);
    if (readConfigText(file) !== text) {
      if (attempt < STABLE_READS) continue;
      throw new ConfigError([`${file}: the file changed while it was being read (a write in progress?); nothing was loaded, the next change or SIGHUP loads it`]);
    }
    cfg.source = resolve(file);
    if (opts.listen?.length) cfg.listenFlags = opts.listen;
    return cfg;
  }
}

/** Reads per load before a file that keeps changing is refused. */
const STABLE_READS = 3;

function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
    throw new ConfigError([`${file}: cannot read the config file: ${why}`]);
  }
}
