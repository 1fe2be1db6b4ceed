// Shared by the bucket-mode tests: reading and writing a provider's copy directly, behind the
// gateway's back, and waiting for what the gateway logged.
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { LocalStore } from '../../src/local/store.js';
import { request } from 'undici';
import type { LogSink } from '../helpers/gateway.js';

/** One provider bucket, as the test sees it directly. */
export interface Side {
  get(key: string): Promise<{ body: Buffer; headers: Record<string, string> } | undefined>;
  put(key: string, body: Buffer, headers?: Record<string, string>): Promise<void>;
}

export function storeSide(store: LocalStore, bucket: string): Side {
  return {
    async get(key) {
      try {
        const r = await store.handle({ method: 'GET', bucket, key, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
        const parts: Buffer[] = [];
        for await (const c of r.body as Readable) parts.push(c as Buffer);
        return { body: Buffer.concat(parts), headers: r.headers };
      } catch {
        return undefined;
      }
    },
    async put(key, body, headers = {}) {
      await store.handle({ method: 'PUT', bucket, key, query: new URLSearchParams(), headers: { 'content-length': String(body.length), ...headers }, body: Readable.from([body]) });
    },
  };
}

export function s3Side(s3: S3Client, bucket: string): Side {
  return {
    async get(key) {
      try {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const headers: Record<string, string> = {};
        if (r.ContentType) headers['content-type'] = r.ContentType;
        if (r.CacheControl) headers['cache-control'] = r.CacheControl;
        return { body: Buffer.from(await r.Body!.transformToByteArray()), headers };
      } catch (e) {
        if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw e;
      }
    },
    async put(key, body, headers = {}) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...(headers['content-type'] ? { ContentType: headers['content-type'] } : {}) }));
    },
  };
}

export async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  return s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(() => true, (e: { $metadata?: { httpStatusCode?: number } }) => {
    if (e.$metadata?.httpStatusCode === 404) return false;
    throw e;
  });
}

/** The first log line that matches, waiting for it (a copy settles after the client's answer). */
export async function logLine(sink: LogSink, match: (l: Record<string, unknown>) => boolean, waitMs = 30_000): Promise<Record<string, unknown>> {
  const until = Date.now() + waitMs;
  for (;;) {
    const l = sink.lines.find(match);
    if (l) return l;
    if (Date.now() > until) throw new Error('no such log line');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const copyLine = (key: string) => (l: Record<string, unknown>) => l.key === key && typeof l.msg === 'string' && l.msg.startsWith('copy-on-read');

/** Copy-on-read outcomes for a bucket, from the gateway's metrics: { ok: 2, superseded: 1 }. */
export async function copyResults(adminUrl: string, bucket: string): Promise<Record<string, number>> {
  const text = await (await request(`${adminUrl}/metrics`)).body.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^s3gate_migration_copies_total\{([^}]*)\} (\d+)/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.bucket === bucket) out[labels.result!] = (out[labels.result!] ?? 0) + Number(m[2]);
  }
  return out;
}

const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** Waits until `n` more copies of the bucket have settled than in `before`; returns what changed. */
export async function settledCopies(adminUrl: string, bucket: string, before: Record<string, number>, n = 1, waitMs = 30_000): Promise<Record<string, number>> {
  const until = Date.now() + waitMs;
  for (;;) {
    const now = await copyResults(adminUrl, bucket);
    if (total(now) - total(before) >= n) {
      const delta: Record<string, number> = {};
      for (const [k, v] of Object.entries(now)) if (v !== (before[k] ?? 0)) delta[k] = v - (before[k] ?? 0);
      return delta;
    }
    if (Date.now() > until) throw new Error(`no copy settled in ${bucket}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
