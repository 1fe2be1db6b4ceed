// `s3gate check --config F`: validates the config, then asks each provider, with the credentials
// and signing the gateway would use, whether the buckets it routes to are there. Meant for CI and
// for the minute after editing proxy.yaml: every failure says which field to look at.
import { constants as fsc, readFileSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import net from 'node:net';
import { dirname } from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import type { GatewayConfig, Upstream } from '../config/types.js';
import { callUpstream, text } from '../forward/client.js';
import { closeAgents, type UpstreamResponse } from '../forward/forward.js';
import { upstreamTarget } from '../resign/request.js';

const USAGE = `usage: s3gate check --config proxy.yaml [--json] [--timeout SECONDS]

Validates the config (exit 2 with each problem named by its field), then probes every upstream
with its credentials: HeadBucket for each routed bucket (and migrate/mirror targets), ListBuckets
for the "*" route and for upstreams no bucket routes to, a writable path for the local upstream.
Exit 0 when every probe passes, 1 otherwise.

  --json           one JSON document on stdout
  --timeout S      give up on a provider after S seconds (default 10)
`;

export interface Probe {
  upstream: string;
  /** the client bucket name (buckets.NAME), "*", or absent for an unrouted upstream */
  route?: string;
  /** how the route uses this upstream */
  role: 'route' | 'from' | 'mirror' | 'unrouted' | 'store';
  operation: 'HeadBucket' | 'ListBuckets' | 'LocalPath';
  /** the provider's bucket name, for HeadBucket */
  bucket?: string;
}

export interface ProbeResult extends Probe {
  ok: boolean;
  /** where the probe went: a URL, or the local store's directory */
  target: string;
  ms?: number;
  status?: number;
  code?: string;
  /** what is wrong, and where to look; or a note on success */
  detail?: string;
}

export function planProbes(cfg: GatewayConfig): Probe[] {
  const probes: Probe[] = [];
  const seen = new Set<string>();
  const add = (p: Probe) => {
    const id = `${p.upstream}\0${p.operation}\0${p.bucket ?? ''}`;
    if (seen.has(id)) return;
    seen.add(id);
    probes.push(p);
  };
  for (const u of cfg.upstreams.values()) if (u.kind === 'local') add({ upstream: u.name, role: 'store', operation: 'LocalPath' });
  for (const r of cfg.buckets.values()) {
    if (r.name === '*') {
      add({ upstream: r.upstream, route: '*', role: 'route', operation: 'ListBuckets' });
      continue;
    }
    const bucket = r.bucket ?? r.name;
    add({ upstream: r.upstream, route: r.name, role: 'route', operation: 'HeadBucket', bucket });
    if (r.from) add({ upstream: r.from.upstream, route: r.name, role: 'from', operation: 'HeadBucket', bucket: r.from.bucket ?? bucket });
    if (r.mirror) add({ upstream: r.mirror.upstream, route: r.name, role: 'mirror', operation: 'HeadBucket', bucket: r.mirror.bucket ?? bucket });
  }
  // An upstream nothing routes to still has credentials that should work before someone relies on them.
  const used = new Set(probes.filter((p) => p.operation !== 'LocalPath').map((p) => p.upstream));
  for (const u of cfg.upstreams.values()) if (!used.has(u.name)) add({ upstream: u.name, role: 'unrouted', operation: 'ListBuckets' });
  return probes;
}

function errorFields(xml: string): { code?: string; message?: string } {
  const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1];
  return { ...(code ? { code } : {}), ...(message ? { message } : {}) };
}

function header(res: UpstreamResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Where to look, for what the provider answered. */
export function explain(up: Upstream, p: Probe, status: number, code: string | undefined, message: string | undefined, bucketRegion?: string): string {
  const f = `upstreams.${up.name}`;
  const head = `${status}${code ? ` ${code}` : ''}`;
  if (bucketRegion && bucketRegion !== up.region) return `${head}: bucket ${p.bucket} is in region ${bucketRegion}; set ${f}.region: ${bucketRegion}`;
  switch (code) {
    case 'SignatureDoesNotMatch':
    case 'InvalidAccessKeyId':
    case 'InvalidSecurity':
    case 'InvalidToken':
      return `${head}: check ${f}.credentials`;
    case 'AuthorizationHeaderMalformed':
    case 'AuthorizationQueryParametersError':
    case 'IllegalLocationConstraintException':
    case 'PermanentRedirect':
      return `${head}: check ${f}.region (${up.region})${message ? `; the provider says: ${message}` : ''}`;
    case 'RequestTimeTooSkewed':
      return `${head}: this machine's clock and the provider's differ by more than 15 minutes`;
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return `${head}: ${f}.credentials are valid but may not ${p.operation}${p.bucket ? ` ${p.bucket}` : ''}`;
  }
  if (status === 404 || code === 'NoSuchBucket') {
    return `${head}: ${up.kind === 'local' ? `bucket ${p.bucket} does not exist in ${up.path}` : `provider bucket ${p.bucket} does not exist`}`;
  }
  if (status === 301 || status === 307) return `${head}: the provider redirects; check ${f}.endpoint and ${f}.region`;
  return `${head}: ${message ?? `unexpected answer to ${p.operation}`}`;
}

function reason(e: NodeJS.ErrnoException, hostname: string): string {
  switch (e.code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return `cannot resolve ${hostname}`;
    case 'ETIMEDOUT': return 'connection timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': return 'no route to host';
    case 'ECONNRESET': return 'connection reset';
    default: return e.message;
  }
}

/**
 * The shared client reports any transport failure as one ServiceUnavailable; a second, bare
 * connection finds which step failed (DNS, TCP, TLS) so the message can say so.
 */
async function diagnose(up: Upstream, origin: string, timeoutMs: number): Promise<string> {
  const url = new URL(origin);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const host = up.connectAddress ?? hostname;
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const via = up.connectAddress ? ` (dialing ${up.connectAddress}:${port})` : '';
  const attempt = (open: () => net.Socket, ready: string) => new Promise<void>((resolve, reject) => {
    const s = open();
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    });
    s.once(ready, () => {
      s.destroy();
      resolve();
    });
    s.once('error', reject);
  });
  try {
    await attempt(() => net.connect({ host, port }), 'connect');
  } catch (e) {
    return `cannot reach ${origin}${via}: ${reason(e as NodeJS.ErrnoException, hostname)}`;
  }
  if (url.protocol === 'https:') {
    const t = up.profile.tls ?? { verify: true };
    try {
      await attempt(() => tls.connect({
        host, port, ...(net.isIP(hostname) ? {} : { servername: hostname }),
        rejectUnauthorized: t.verify !== false, ...(t.ca ? { ca: readFileSync(t.ca) } : {}),
      }), 'secureConnect');
    } catch (e) {
      return `cannot reach ${origin}${via}: TLS: ${(e as Error).message}${t.ca ? '' : ` (a private CA goes in upstreams.${up.name}.tls.ca)`}`;
    }
  }
  return `cannot reach ${origin}${via}: the connection opens but the request failed`;
}

async function probeLocal(up: Upstream, p: Probe): Promise<ProbeResult> {
  const dir = up.path!;
  const base = { ...p, target: dir };
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) return { ...base, ok: false, detail: `upstreams.${up.name}.path: ${dir} is not a directory` };
    await access(dir, fsc.W_OK);
    return { ...base, ok: true, detail: 'writable' };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'ENOENT') return { ...base, ok: false, detail: `upstreams.${up.name}.path: ${dir} is not writable (${err.code ?? err.message})` };
  }
  // The store creates its root on the first CreateBucket, so a missing directory is fine as long
  // as it can be made.
  let parent = dirname(dir);
  for (;;) {
    try {
      await access(parent, fsc.W_OK);
      return { ...base, ok: true, detail: `does not exist yet; ${parent} is writable, so it will be created` };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(parent) === parent) {
        return { ...base, ok: false, detail: `upstreams.${up.name}.path: ${dir} does not exist and ${parent} is not writable` };
      }
      parent = dirname(parent);
    }
  }
}

async function probeS3(up: Upstream, p: Probe, timeoutMs: number): Promise<ProbeResult> {
  const origin = up.kind === 'local' ? up.path! : upstreamTarget(up, p.bucket).origin;
  const base = { ...p, target: up.kind === 'local' ? origin : `${origin}${upstreamTarget(up, p.bucket).pathPrefix || '/'}` };
  const call = p.operation === 'HeadBucket'
    ? { operation: 'HeadBucket', method: 'HEAD', bucket: p.bucket! }
    : { operation: 'ListBuckets', method: 'GET' };
  const start = performance.now();
  let res: UpstreamResponse;
  try {
    res = await callUpstream(up, { ...call, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    if ((e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError') {
      return { ...base, ok: false, detail: `no answer from ${origin} within ${timeoutMs / 1000} s` };
    }
    return { ...base, ok: false, detail: await diagnose(up, origin, timeoutMs) };
  }
  const ms = Math.round(performance.now() - start);
  const body = await text(res).catch(() => '');
  if (res.status >= 200 && res.status < 300) {
    const n = (body.match(/<Bucket>/g) ?? []).length;
    const detail = p.operation === 'ListBuckets' ? `${n} bucket${n === 1 ? '' : 's'} visible` : undefined;
    return { ...base, ok: true, ms, status: res.status, ...(detail ? { detail } : {}) };
  }
  let { code, message } = errorFields(body);
  // A HEAD answer has no body to name the error; the same question as a GET does, when the
  // provider answers it the same way.
  if (!code && p.operation === 'HeadBucket' && res.status !== 404) {
    try {
      const again = await callUpstream(up, {
        operation: 'ListObjectsV2', method: 'GET', bucket: p.bucket!,
        query: [['list-type', '2'], ['max-keys', '1']], signal: AbortSignal.timeout(timeoutMs),
      });
      const f = errorFields(await text(again));
      if (again.status === res.status) ({ code, message } = f);
    } catch {
      // The HEAD's status is still worth reporting on its own.
    }
  }
  const bucketRegion = res.status === 301 || code === 'AuthorizationHeaderMalformed' ? header(res, 'x-amz-bucket-region') : undefined;
  return {
    ...base, ok: false, ms, status: res.status, ...(code ? { code } : {}),
    detail: explain(up, p, res.status, code, message, bucketRegion),
  };
}

export async function runProbes(cfg: GatewayConfig, timeoutMs: number): Promise<ProbeResult[]> {
  const probes = planProbes(cfg);
  const local = new Map<string, ProbeResult>();
  for (const p of probes) {
    if (p.operation === 'LocalPath') local.set(p.upstream, await probeLocal(cfg.upstreams.get(p.upstream)!, p));
  }
  return Promise.all(probes.map(async (p): Promise<ProbeResult> => {
    if (p.operation === 'LocalPath') return local.get(p.upstream)!;
    const up = cfg.upstreams.get(p.upstream)!;
    const store = local.get(p.upstream);
    // Its directory is already reported; probing buckets in a store that cannot work only repeats it.
    if (store && !store.ok) return { ...p, ok: false, target: up.path!, detail: `skipped: upstreams.${up.name}.path is not usable` };
    return probeS3(up, p, timeoutMs);
  }));
}

function subject(r: ProbeResult): string {
  if (r.operation === 'LocalPath') return `path ${r.target}`;
  const role = r.role === 'from' ? ' (migrate from)' : r.role === 'mirror' ? ' (mirror)' : '';
  if (r.role === 'unrouted') return 'no route uses it';
  if (r.route === '*') return 'buckets.*';
  return `buckets.${r.route} → ${r.bucket}${role}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c', default: 'proxy.yaml' },
        json: { type: 'boolean' },
        timeout: { type: 'string', default: '10' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    });
  } catch (e) {
    process.stderr.write(`s3gate check: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) {
    process.stderr.write(`s3gate check: --timeout ${values.timeout}: must be a positive number of seconds\n`);
    return 2;
  }
  let cfg: GatewayConfig;
  try {
    cfg = loadConfig(values.config!);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (values.json) process.stdout.write(JSON.stringify({ config: values.config, ok: false, problems: e.problems }) + '\n');
    process.stderr.write(`s3gate: ${e.message}\n`);
    return 2;
  }
  let results: ProbeResult[];
  try {
    results = await runProbes(cfg, timeout * 1000);
  } finally {
    await closeAgents(cfg.upstreams.values());
  }
  const failed = results.filter((r) => !r.ok).length;
  if (values.json) {
    process.stdout.write(JSON.stringify({ config: cfg.source, ok: failed === 0, results }) + '\n');
  } else {
    const rows = results.map((r) => [
      r.ok ? 'ok' : 'FAIL', `upstreams.${r.upstream}`, subject(r), r.operation,
      r.ok ? [r.ms !== undefined ? `${r.ms} ms` : '', r.detail ?? ''].filter(Boolean).join(', ') : r.detail ?? '',
    ]);
    process.stdout.write(`config ${cfg.source}: valid\n` + table(rows));
    const probes = (n: number) => `${n} ${n === 1 ? 'probe' : 'probes'}`;
    process.stdout.write(failed ? `${failed} of ${probes(results.length)} failed\n` : `all ${probes(results.length)} passed\n`);
  }
  return failed ? 1 : 0;
}
