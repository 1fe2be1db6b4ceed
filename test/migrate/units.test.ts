// The copier's pure pieces: listing parser, compare/decide, journal replay, shard assignment.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseListV2, urlDecodeKey, xmlUnescape } from '../../src/migrate/list.js';
import { compare, parseSize, partRanges, sameInstant, checkPartSize } from '../../src/migrate/plan.js';
import { chainHash, JournalError, JournalWriter, readJournal, replayLines, defaultJournalPath, type JournalRecord } from '../../src/migrate/journal.js';
import { candidateLayouts, IntegrityError, SourceDigest } from '../../src/migrate/integrity.js';
import { createHash } from 'node:crypto';
import { inShard, parseShard, shardOf } from '../../src/migrate/shard.js';
import { eta, progressJson, progressLine, type ProgressSnapshot } from '../../src/migrate/progress.js';
import { urlEncodeKey } from '../../src/s3/url-encoding.js';

const MiB = 1024 * 1024;

describe('ListObjectsV2 parsing', () => {
  it('reads XML-escaped keys, quoted ETags and the cursor', () => {
    const doc = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
<Contents><Key>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#x263A;&#9731;</Key><LastModified>2024-05-01T10:00:00.000Z</LastModified><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>big</Key><LastModified>2024-05-01T10:00:01.000Z</LastModified><ETag>"abc-3"</ETag><Size>15728640</Size><Owner><ID>x</ID></Owner></Contents>
<NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>`;
    const page = parseListV2(doc);
    expect(page.isTruncated).toBe(true);
    expect(page.nextToken).toBe('tok+/=');
    expect(page.objects).toEqual([
      { key: `a & b <c> "d" 'e' \u263a\u2603`, size: 1, etag: '0cc175b9c0f1b6a831c399e269772661', lastModified: '2024-05-01T10:00:00.000Z' },
      { key: 'big', size: 15728640, etag: 'abc-3', lastModified: '2024-05-01T10:00:01.000Z' },
    ]);
  });

  it('decodes encoding-type=url keys: + is a space, %2B a plus, and control characters survive', () => {
    const keys = ['dir/a b+c.txt', 'ünïcødé/日本語 ファイル', 'tab\there', 'ctrl\u0001', '100%/x?y=z&w#f', 'plus+only'];
    const doc = `<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>${keys
      .map((k) => `<Contents><Key>${urlEncodeKey(k)}</Key><Size>0</Size><ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><LastModified>2024-01-01T00:00:00Z</LastModified></Contents>`)
      .join('')}</ListBucketResult>`;
    const page = parseListV2(doc);
    expect(page.objects.map((o) => o.key)).toEqual(keys);
    expect(page.isTruncated).toBe(false);
    expect(page.nextToken).toBeUndefined();
    expect(urlDecodeKey('a+b%2Bc')).toBe('a b+c');
  });

  it('leaves unknown entities alone and refuses what is not a listing', () => {
    expect(xmlUnescape('&foo; &amp;amp;')).toBe('&foo; &amp;');
    expect(() => parseListV2('<Error><Code>AccessDenied</Code></Error>')).toThrow(/not a ListBucketResult/);
    expect(() => parseListV2('<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>')).toThrow(/NextContinuationToken/);
  });
});

describe('plan: is the destination already the source?', () => {
  const md5 = '0cc175b9c0f1b6a831c399e269772661';
  it('single-part ETags compare directly', () => {
    expect(compare({ size: 1, etag: md5 }, { size: 1, etag: md5 })).toEqual({ same: true, by: 'etag' });
    expect(compare({ size: 1, etag: md5 }, undefined)).toMatchObject({ same: false, difference: 'missing' });
    expect(compare({ size: 1, etag: md5 }, { size: 2, etag: md5 })).toMatchObject({ same: false, difference: 'size' });
    expect(compare({ size: 1, etag: md5 }, { size: 1, etag: 'ffffffffffffffffffffffffffffffff' })).toMatchObject({ same: false, difference: 'etag' });
  });

  it('different part layouts: checksums when both sides have one, else the journal', () => {
    const src = { size: 12 * MiB, etag: md5, lastModified: '2024-05-01T10:00:00.000Z' };
    const dest = { size: 12 * MiB, etag: 'abc-3' };
    expect(compare(src, dest)).toMatchObject({ same: false, difference: 'etag' });
    expect(compare({ ...src, checksums: { crc32: 'AAA=' } }, { ...dest, checksums: { crc32: 'AAA=' } })).toEqual({ same: true, by: 'checksum' });
    expect(compare({ ...src, checksums: { crc32: 'AAA=' } }, { ...dest, checksums: { crc32: 'BBB=' } })).toMatchObject({ same: false, difference: 'checksum' });
    // only one side has it: no comparison possible that way
    expect(compare({ ...src, checksums: { sha256: 'x' } }, { ...dest, checksums: { crc32: 'y' } })).toMatchObject({ same: false, difference: 'etag' });
    const rec = { size: 12 * MiB, etag: md5, lastModified: 'Wed, 01 May 2024 10:00:00 GMT', destEtag: 'abc-3' };
    expect(compare(src, dest, rec)).toEqual({ same: true, by: 'journal' });
    // the source changed since we copied it
    expect(compare({ ...src, lastModified: '2024-05-02T10:00:00.000Z' }, dest, rec)).toMatchObject({ same: false });
    // the destination was overwritten since
    expect(compare(src, { ...dest, etag: 'def-3' }, rec)).toMatchObject({ same: false });
  });

  it('Last-Modified as ISO and as an HTTP date are the same instant to the second', () => {
    expect(sameInstant('2024-05-01T10:00:00.123Z', 'Wed, 01 May 2024 10:00:00 GMT')).toBe(true);
    expect(sameInstant('2024-05-01T10:00:01.000Z', 'Wed, 01 May 2024 10:00:00 GMT')).toBe(false);
    expect(sameInstant(undefined, 'Wed, 01 May 2024 10:00:00 GMT')).toBe(false);
  });

  it('parts cover the object exactly and stay within 10,000', () => {
    expect(partRanges(12 * MiB, 5 * MiB)).toEqual([
      { partNumber: 1, start: 0, end: 5 * MiB - 1 },
      { partNumber: 2, start: 5 * MiB, end: 10 * MiB - 1 },
      { partNumber: 3, start: 10 * MiB, end: 12 * MiB - 1 },
    ]);
    expect(partRanges(10 * MiB, 5 * MiB)).toHaveLength(2);
    const huge = partRanges(100_000 * 5 * MiB + 1, 5 * MiB);
    expect(huge.length).toBeLessThanOrEqual(10_000);
    expect(huge.at(-1)!.end).toBe(100_000 * 5 * MiB);
  });

  it('sizes', () => {
    expect(parseSize('64MiB')).toBe(64 * MiB);
    expect(parseSize('16MB')).toBe(16_000_000);
    expect(parseSize('5242880')).toBe(5 * MiB);
    expect(parseSize('1.5GiB')).toBe(1536 * MiB);
    expect(() => parseSize('lots')).toThrow(/not a size/);
    expect(checkPartSize(4 * MiB)).toMatch(/at least 5MiB/);
    expect(checkPartSize(5 * MiB)).toBeUndefined();
  });
});

/** Journal lines as the writer makes them: each chained to the one before. */
function chained(records: object[], from = ''): string[] {
  let h = from;
  return records.map((r) => {
    h = chainHash(h, r as JournalRecord);
    return JSON.stringify({ ...r, h });
  });
}

describe('journal', () => {
  const begin = { t: 'begin', v: 2, from: 'old/b', to: 'new/b', shard: 'all', at: 'x' };
  it('replays copies, open uploads and the listing cursor; a complete pass resets the cursor', () => {
    const records = [
      begin,
      { t: 'copied', k: 'a', s: 1, e: 'e1', m: 'm1' },
      { t: 'mpu', k: 'big', u: 'U1', ps: 5, s: 12, e: 'e2', m: 'm2' },
      { t: 'cursor', after: 'a', pages: 1 },
      { t: 'mpu-end', k: 'big', u: 'U0' },
    ];
    const lines = chained(records);
    const s = replayLines([...lines, '{"t":"copied","k":"torn']);
    expect(s.begin).toEqual({ from: 'old/b', to: 'new/b', shard: 'all' });
    expect(s.copied.get('a')).toEqual({ size: 1, etag: 'e1', lastModified: 'm1', pass: 0 });
    expect(s.uploads.get('big')?.uploadId).toBe('U1'); // another upload's end does not close it
    expect(s.cursor).toBe('a');
    expect(s.pagesDone).toBe(1);
    expect(s.skippedLines).toBe(1);
    const s2 = replayLines(chained([...records, { t: 'mpu-end', k: 'big', u: 'U1' }, { t: 'complete', at: 'y' }]));
    expect(s2.uploads.size).toBe(0);
    expect(s2.cursor).toBeUndefined();
    expect(s2.copied.size).toBe(1);
    expect(s2.pass).toBe(1);
  });

  it('refuses a torn begin line, a duplicated or edited line, and an unchained (format 1) journal', () => {
    const lines = chained([begin, { t: 'copied', k: 'a', s: 1, e: 'e1', m: 'm1' }, { t: 'complete', at: 'y' }, { t: 'copied', k: 'b', s: 1, e: 'e2', m: 'm1' }]);
    expect(() => replayLines(lines)).not.toThrow();
    // The begin line torn (a crash, or cut by hand): what follows belongs to no migration.
    expect(() => replayLines([lines[0]!.slice(0, 40), ...lines.slice(1)])).toThrow(JournalError);
    expect(() => replayLines([lines[0]!.slice(0, 40), ...lines.slice(1)])).toThrow(/does not start with a whole begin line/);
    // A copied line repeated after the pass completed would skip the object in the next pass.
    expect(() => replayLines([...lines.slice(0, 3), lines[1]!, ...lines.slice(3)])).toThrow(/line 4 does not follow/);
    // The begin line pointed at another destination.
    expect(() => replayLines([lines[0]!.replace('new/b', 'other/b'), ...lines.slice(1)])).toThrow(/line 1 does not follow/);
    expect(() => replayLines([JSON.stringify({ ...begin, v: 1 })])).toThrow(/format-1 journal/);
  });

  it('appends after a torn last line without gluing onto it, continues the chain, and reads back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3gate-journal-'));
    const file = join(dir, 'j.jsonl');
    const first = chained([begin, { t: 'copied', k: 'k1', s: 1, e: 'e', m: 'm' }]);
    writeFileSync(file, first.join('\n') + '\n');
    appendFileSync(file, '{"t":"copied","k":"k2","s"'); // killed mid-write
    const w = new JournalWriter(file, { syncEveryRecords: 2 }, (await readJournal(file)).head);
    w.append({ t: 'copied', k: 'k3 ünï\n"q"', s: 3, e: 'e', m: 'm' });
    w.append({ t: 'cursor', after: 'k3', pages: 1 }, true);
    w.close();
    const state = await readJournal(file);
    expect([...state.copied.keys()]).toEqual(['k1', 'k3 ünï\n"q"']);
    expect(state.skippedLines).toBe(1);
    expect(state.cursor).toBe('k3');
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(5);
    expect((await readJournal(join(dir, 'none.jsonl'))).copied.size).toBe(0);
    await expect(readJournal(file).then(() => {
      appendFileSync(file, first[1]! + '\n');
      return readJournal(file);
    })).rejects.toThrow(/line 6 does not follow/);
  });

  it('default file names, one per shard', () => {
    expect(defaultJournalPath('media')).toBe('.s3gate-migrate-media.jsonl');
    expect(defaultJournalPath('media', { index: 1, count: 4 })).toBe('.s3gate-migrate-media.shard-1-of-4.jsonl');
  });
});

describe('shards', () => {
  it('every key lands in exactly one shard, the same one every time', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `k/${i} ü+`);
    const counts = [0, 0, 0];
    for (const k of keys) {
      const owners = [0, 1, 2].filter((i) => inShard(k, { index: i, count: 3 }));
      expect(owners).toHaveLength(1);
      expect(shardOf(k, 3)).toBe(owners[0]);
      counts[owners[0]!]!++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(800); // roughly even
    expect(inShard('anything', undefined)).toBe(true);
  });

  it('pins the hash: first 4 bytes of sha1, big-endian, mod N', () => {
    // sha1("hello") = aaf4c61d...; 0xaaf4c61d = 2868168221
    expect(shardOf('hello', 1000)).toBe(2868168221 % 1000);
  });

  it('parses i/N and auto/N from JOB_COMPLETION_INDEX', () => {
    expect(parseShard('1/4')).toEqual({ index: 1, count: 4 });
    expect(parseShard('auto/4', { JOB_COMPLETION_INDEX: '3' })).toEqual({ index: 3, count: 4 });
    expect(() => parseShard('auto/4', {})).toThrow(/JOB_COMPLETION_INDEX/);
    expect(() => parseShard('4/4')).toThrow(/not below/);
    expect(() => parseShard('1-4')).toThrow(/i\/N/);
    expect(() => parseShard('0/0')).toThrow(/at least 1/);
  });
});

describe('progress', () => {
  const base: ProgressSnapshot = { listed: 100, listedBytes: 100 * MiB, listingDone: false, copied: 40, skipped: 10, failed: 0, reported: 0, newer: 0, bytes: 40 * MiB, settledBytes: 50 * MiB, elapsedMs: 10_000 };
  it('has no ETA until the listing is complete, then one from the remaining bytes', () => {
    expect(eta(base)).toBeUndefined();
    expect(progressLine(base)).toContain('50/100+ objects');
    expect(eta({ ...base, listingDone: true })).toBeCloseTo(12.5);
    expect(progressJson({ ...base, listingDone: true })).toMatchObject({ event: 'progress', done: 50, listed: 100, mibPerSec: 4, etaSec: 13 });
  });
});

describe('integrity: the bytes read against the source ETag', () => {
  const bytes = Buffer.alloc(13 * MiB + 5);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
  const md5 = (b: Buffer) => createHash('md5').update(b).digest();
  const composite = (b: Buffer, ps: number) => {
    const parts: Buffer[] = [];
    for (let o = 0; o < b.length; o += ps) parts.push(md5(b.subarray(o, o + ps)));
    return `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-${parts.length}`;
  };
  const feed = (d: SourceDigest, b: Buffer) => {
    for (let o = 0; o < b.length; o += 65536) d.update(b.subarray(o, o + 65536));
    return d;
  };

  it('single-part ETag: the MD5 of the bytes, one flipped byte refused', () => {
    expect(feed(new SourceDigest(md5(bytes).toString('hex'), bytes.length), bytes).check()).toEqual({ verified: true, by: 'md5' });
    const bad = Buffer.from(bytes);
    bad[123456] = bad[123456]! ^ 1;
    expect(() => feed(new SourceDigest(md5(bytes).toString('hex'), bytes.length), bad).check()).toThrow(IntegrityError);
  });

  it('multipart ETag: the composite under the part size the uploader used (5, 6 or 8 MiB)', () => {
    for (const ps of [5 * MiB, 6 * MiB, 8 * MiB]) {
      const etag = composite(bytes, ps);
      expect(feed(new SourceDigest(etag, bytes.length), bytes).check(), String(ps)).toEqual({ verified: true, by: 'composite' });
      const bad = Buffer.from(bytes);
      bad[bytes.length - 3] = bad[bytes.length - 3]! ^ 1;
      expect(() => feed(new SourceDigest(etag, bytes.length), bad).check()).toThrow(/none of the part sizes tried/);
    }
    expect(candidateLayouts(13 * MiB, 2)).toContain(8 * MiB);
    expect(candidateLayouts(13 * MiB, 3, 5 * MiB)[0]).toBe(5 * MiB);
  });

  it('a copy of the state continues where it was: a part retried does not count twice', () => {
    const d = new SourceDigest(md5(bytes).toString('hex'), bytes.length);
    feed(d, bytes.subarray(0, 5 * MiB));
    const attempt = d.copy();
    attempt.update(bytes.subarray(5 * MiB, 6 * MiB)); // a read that failed halfway
    const retry = d.copy();
    feed(retry, bytes.subarray(5 * MiB));
    expect(retry.check()).toEqual({ verified: true, by: 'md5' });
  });
});
