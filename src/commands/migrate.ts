// `s3gate migrate`: copies a bucket from its old provider to its new one, as configured with
// `mode: migrate`, resumably. The work lives in src/migrate/; this is flags, signals and output.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { closeAgents } from '../forward/forward.js';
import { defaultJournalPath, JournalError } from '../migrate/journal.js';
import { Migrator, type MigrateMode, type ObjectEvent, type Report } from '../migrate/migrator.js';
import { checkPartSize, parseSize } from '../migrate/plan.js';
import { formatBytes, formatDuration, ProgressDisplay } from '../migrate/progress.js';
import type { Endpoint } from '../migrate/s3.js';
import { parseShard, shardLabel, type Shard } from '../migrate/shard.js';
import { MigrateMetrics, parseMetricsAddress, serveMigrateMetrics, type MetricsListener } from '../metrics/migrate.js';

const USAGE = `usage: s3gate migrate --config proxy.yaml --bucket NAME [options]
       s3gate migrate --config proxy.yaml --from UPSTREAM/BUCKET --to UPSTREAM/BUCKET [options]

Copies every object of the bucket's \`from\` (old provider) to its primary upstream (new
provider), as configured with \`mode: migrate\`, or between the two given upstream/buckets.

  --concurrency N             objects in flight (default 8)
  --multipart-threshold SIZE  objects from this size are copied as multipart uploads (default 64MiB)
  --part-size SIZE            multipart part size (default 16MiB, at least 5MiB)
  --state FILE                the resumable journal (default .s3gate-migrate-BUCKET.jsonl here)
  --no-state                  keep no journal (a restart then relies on HEAD checks alone)
  --shard i/N | auto/N        copy only keys of shard i of N (auto: $JOB_COMPLETION_INDEX)
  --dry-run                   list and compare; print what would be copied; copy nothing
  --verify[=content]          compare only; print the differences; exit 1 if there are any
                              (=content: also read both objects' bytes and compare them)
  --json                      the report and per-object lines as JSON
  --progress-interval SECS    JSON progress cadence when not on a terminal (default 5)
  --page-size N               keys per listing request (default 1000, the S3 maximum)
  --metrics HOST:PORT         serve Prometheus metrics on GET /metrics while it runs
                              (s3gate_migrate_*; deploy/grafana's dashboard shows them)

Never overwrites an object the destination holds unless this migration wrote it (journal,
ETag and Last-Modified): anything else there is left alone and reported as newer at destination.

Exit: 0 done, 1 failures or differences, 2 bad usage, config or journal, 130 interrupted.
`;

class UsageError extends Error {}

export function targetOf(cfg: GatewayConfig, spec: string, flag: string): Endpoint {
  const slash = spec.indexOf('/');
  if (slash <= 0 || slash === spec.length - 1) throw new UsageError(`${flag}: "${spec}" is not UPSTREAM/BUCKET`);
  const name = spec.slice(0, slash);
  const up = cfg.upstreams.get(name);
  if (!up) throw new UsageError(`${flag}: no upstream "${name}"; known: ${[...cfg.upstreams.keys()].join(', ')}`);
  return { up, bucket: spec.slice(slash + 1) };
}

export function endpoints(cfg: GatewayConfig, v: { bucket?: string; from?: string; to?: string }): { src: Endpoint; dst: Endpoint; name: string } {
  if (v.from !== undefined || v.to !== undefined) {
    if (v.from === undefined || v.to === undefined) throw new UsageError('--from and --to go together');
    const src = targetOf(cfg, v.from, '--from');
    const dst = targetOf(cfg, v.to, '--to');
    if (src.up === dst.up && src.bucket === dst.bucket) throw new UsageError('--from and --to are the same bucket');
    return { src, dst, name: v.bucket ?? dst.bucket };
  }
  if (v.bucket === undefined) throw new UsageError('--bucket NAME (a bucket with mode: migrate), or --from and --to, is required');
  const route = cfg.buckets.get(v.bucket);
  if (!route || v.bucket === '*') throw new UsageError(`--bucket: no bucket "${v.bucket}" in the config; known: ${[...cfg.buckets.keys()].filter((b) => b !== '*').join(', ') || '(none)'}`);
  if (route.mode !== 'migrate' || !route.from) {
    throw new UsageError(`--bucket: bucket "${v.bucket}" has mode: ${route.mode}, not migrate; set mode: migrate with from:, or give --from and --to`);
  }
  const primaryBucket = route.bucket ?? route.name;
  return {
    src: { up: cfg.upstreams.get(route.from.upstream)!, bucket: route.from.bucket ?? primaryBucket },
    dst: { up: cfg.upstreams.get(route.upstream)!, bucket: primaryBucket },
    name: v.bucket,
  };
}

export async function run(argv: string[]): Promise<number> {
  let values;
  // --verify takes an optional value, which parseArgs cannot express: =content is its own flag.
  const verifyContent = argv.includes('--verify=content');
  const args = argv.map((a) => (a === '--verify=content' || a === '--verify=metadata' ? '--verify' : a));
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c', default: 'proxy.yaml' },
        bucket: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        concurrency: { type: 'string', default: '8' },
        'multipart-threshold': { type: 'string', default: '64MiB' },
        'part-size': { type: 'string', default: '16MiB' },
        state: { type: 'string' },
        'no-state': { type: 'boolean' },
        shard: { type: 'string' },
        'dry-run': { type: 'boolean' },
        verify: { type: 'boolean' },
        json: { type: 'boolean' },
        'progress-interval': { type: 'string', default: '5' },
        'page-size': { type: 'string', default: '1000' },
        metrics: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`s3gate migrate: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // A ConfigError reaches the bin's handler: its field-named problems, exit 2.
  const cfg = loadConfig(values.config!);

  let plan: { src: Endpoint; dst: Endpoint; name: string; concurrency: number; threshold: number; partSize: number; shard?: Shard; interval: number; mode: MigrateMode; pageSize: number; metrics?: { host: string; port: number } };
  try {
    if (values['dry-run'] && values.verify) throw new UsageError('--dry-run and --verify: choose one');
    const ep = endpoints(cfg, values);
    const concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) throw new UsageError('--concurrency: a whole number from 1 to 1024');
    const sized = (flag: string, v: string) => {
      try {
        return parseSize(v);
      } catch (e) {
        throw new UsageError(`${flag}: ${(e as Error).message}`);
      }
    };
    const threshold = sized('--multipart-threshold', values['multipart-threshold']!);
    const partSize = sized('--part-size', values['part-size']!);
    const bad = checkPartSize(partSize);
    if (bad) throw new UsageError(`--part-size ${bad}`);
    if (threshold < 1) throw new UsageError('--multipart-threshold must be at least 1 byte');
    const interval = Number(values['progress-interval']);
    if (!(interval > 0)) throw new UsageError('--progress-interval: seconds, above 0');
    const pageSize = Number(values['page-size']);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw new UsageError('--page-size: a whole number from 1 to 1000');
    let shard: Shard | undefined;
    if (values.shard !== undefined) {
      try {
        shard = parseShard(values.shard);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const mode: MigrateMode = values.verify ? 'verify' : values['dry-run'] ? 'dry-run' : 'copy';
    let metrics: { host: string; port: number } | undefined;
    if (values.metrics !== undefined) {
      try {
        metrics = parseMetricsAddress(values.metrics);
      } catch (e) {
        throw new UsageError(`--metrics: ${(e as Error).message}`);
      }
    }
    plan = { ...ep, concurrency, threshold, partSize, interval, mode, pageSize, ...(shard ? { shard } : {}), ...(metrics ? { metrics } : {}) };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`s3gate migrate: ${e.message}\n`);
    return 2;
  }

  const journalPath = values['no-state'] ? undefined : resolve(values.state ?? defaultJournalPath(plan.name, plan.shard));
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    // The second one means now: the journal is written line by line, so even this loses nothing.
    if (++signals > 1) process.exit(130);
    process.stderr.write(`\ns3gate migrate: ${sig}: stopping (aborting in-flight uploads, flushing the journal)\n`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const json = values.json === true;
  const tty = process.stderr.isTTY === true;
  const migrator = new Migrator({
    src: plan.src, dst: plan.dst, mode: plan.mode, concurrency: plan.concurrency,
    multipartThreshold: plan.threshold, partSize: plan.partSize, signal: stop.signal, pageSize: plan.pageSize, verifyContent,
    ...(plan.shard ? { shard: plan.shard } : {}), ...(journalPath ? { journalPath } : {}),
    onObject: (e) => printEvent(e, json, display),
  });
  const display = new ProgressDisplay(process.stderr, () => migrator.snapshot(), { tty, intervalMs: plan.interval * 1000 });
  let exporter: MetricsListener | undefined;
  if (plan.metrics) {
    try {
      exporter = await serveMigrateMetrics(plan.metrics, new MigrateMetrics({ bucket: plan.name, shard: shardLabel(plan.shard) }), () => migrator.snapshot());
    } catch (e) {
      process.stderr.write(`s3gate migrate: --metrics ${values.metrics}: ${(e as Error).message}\n`);
      return 2;
    }
    process.stderr.write(json ? JSON.stringify({ event: 'metrics', url: exporter.url }) + '\n' : `s3gate migrate: metrics on ${exporter.url}\n`);
  }
  display.start();
  let report: Report;
  try {
    report = await migrator.run();
  } catch (e) {
    display.stop();
    process.stderr.write(`s3gate migrate: ${(e as Error).message}\n`);
    // A journal that is another migration's, or damaged, is a mistake in what was asked.
    return e instanceof JournalError ? 2 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await exporter?.close();
    await closeAgents(cfg.upstreams.values()).catch(() => {});
  }
  display.stop();
  process.stdout.write(json ? JSON.stringify({ event: 'report', ...report, ...(journalPath ? { state: journalPath } : {}) }) + '\n' : textReport(report, journalPath));
  if (report.stopped) return 130;
  if (report.failed > 0) return 1;
  if (report.mode === 'verify' && Object.values(report.differences ?? {}).some((n) => n > 0)) return 1;
  return 0;
}

function printEvent(e: ObjectEvent, json: boolean, display: ProgressDisplay | undefined): void {
  if (json) {
    display?.clearLine();
    (e.event === 'failed' ? process.stderr : process.stdout).write(JSON.stringify(e) + '\n');
    return;
  }
  if (e.event === 'copied') return;
  display?.clearLine();
  if (e.event === 'newer-at-destination') process.stdout.write(`newer at destination  ${e.key}  ${e.detail}\n`);
  else if (e.event === 'would-copy') process.stdout.write(`would copy  ${e.key}  (${formatBytes(e.size)}, ${e.reason})\n`);
  else if (e.event === 'difference') process.stdout.write(`${e.kind.padEnd(9)} ${e.key}  ${e.detail}\n`);
  else process.stderr.write(`failed  ${e.key}  ${e.reason}\n`);
}

function textReport(r: Report, journal: string | undefined): string {
  const lines = [
    `${r.mode === 'copy' ? 'migrate' : r.mode} ${r.from} → ${r.to}${r.shard !== 'all' ? ` (shard ${r.shard})` : ''}${r.stopped ? ': INTERRUPTED' : ''}`,
    `  listed    ${r.listed}${r.resumedAfter !== undefined ? ` (resumed after ${JSON.stringify(r.resumedAfter)})` : ''}`,
  ];
  if (r.mode === 'copy') lines.push(`  copied    ${r.copied} (${formatBytes(r.bytes)})`);
  lines.push(`  skipped   ${r.skipped} (already in place)`);
  if (r.newerAtDestination) lines.push(`  newer at destination ${r.newerAtDestination} (left alone: not written by this migration)`);
  if (r.unverified) lines.push(`  unverified ${r.unverified} (copied; the source's ETag is not an MD5, so nothing to check the bytes against)`);
  if (r.wouldCopy) lines.push(`  to copy   ${r.wouldCopy.objects} (${formatBytes(r.wouldCopy.bytes)})`);
  if (r.differences) {
    const d = Object.entries(r.differences);
    lines.push(`  differences ${d.reduce((n, [, c]) => n + c, 0)}${d.length ? ` (${d.map(([k, c]) => `${k} ${c}`).join(', ')})` : ''}`);
  }
  lines.push(`  failed    ${r.failed}`);
  for (const f of r.failures.slice(0, 50)) lines.push(`    ${f.key || '(listing)'}: ${f.reason}`);
  if (r.failures.length > 50) lines.push(`    … ${r.failed - 50} more`);
  lines.push(`  duration  ${formatDuration(r.durationMs / 1000)}${r.bytes ? `, ${((r.bytes / 1048576) / Math.max(r.durationMs / 1000, 0.001)).toFixed(1)} MiB/s` : ''}`);
  if (journal && r.mode === 'copy') lines.push(`  state     ${journal}`);
  return lines.join('\n') + '\n';
}
