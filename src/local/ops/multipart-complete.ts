import { open, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { S3Error } from '../../s3/errors.js';
import { checksumMismatch } from '../../payload/verify.js';
import { createChecksum } from '../../payload/checksums.js';
import { ALGORITHMS, checksumElements, compositeOf, DEFAULT_ALGORITHM, ELEMENT, headerClaim, wireValue } from '../checksums.js';
import { checkWritePreconditions, requireSupportedWriteConditions } from '../conditions.js';
import type { CompletedUpload } from '../disk.js';
import { readSmall, unquote, xml } from '../http.js';
import type { Operation } from '../op.js';
import type { ChecksumAlgorithm, ChecksumType, ObjectMeta, PartMeta, StoredChecksum, UploadMeta } from '../types.js';
import { requireRoot, xmlBlocks, xmlLeaf } from '../xml.js';

const MIN_PART = 5 * 1024 * 1024;

interface RequestedPart {
  partNumber: number;
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

function answer(b: string, done: CompletedUpload) {
  const c = done.checksum;
  return xml(200, 'CompleteMultipartUploadResult', {
    Location: done.location, Bucket: b, Key: done.key, ETag: done.etag,
    ...checksumElements(c ? { ...c, value: wireValue(c, done.parts ?? 1) } : undefined),
  });
}

function parseParts(doc: string): RequestedPart[] {
  return xmlBlocks(doc, 'Part').map((p) => {
    const checksums: Partial<Record<ChecksumAlgorithm, string>> = {};
    for (const a of ALGORITHMS) {
      const v = xmlLeaf(p, ELEMENT[a]);
      if (v !== undefined) checksums[a] = v.trim();
    }
    return { partNumber: Number(xmlLeaf(p, 'PartNumber')), etag: xmlLeaf(p, 'ETag') ?? '', checksums };
  });
}

/**
 * The object's checksum, as S3 derives it: the upload's algorithm and type, or else what the
 * Complete's own x-amz-checksum-* header names. Composite: over the parts' checksums, each of which
 * the store computed; full-object: over the bytes, while they are joined.
 */
function objectChecksum(upload: UploadMeta, h: Record<string, string>, requested: RequestedPart[], chosen: PartMeta[]) {
  const claim = headerClaim(h);
  const claimType = h['x-amz-checksum-type']?.trim().toUpperCase();
  if (claimType !== undefined && claimType !== 'FULL_OBJECT' && claimType !== 'COMPOSITE') {
    throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  }
  const uploaded = upload.checksumAlgorithm;
  if (uploaded && claimType !== undefined && claimType !== upload.checksumType) {
    throw new S3Error('InvalidRequest', `The upload was created using the ${upload.checksumType} checksum mode. The complete request must use the same checksum mode.`);
  }
  if (uploaded && claim && claim.algorithm !== uploaded) {
    throw new S3Error('InvalidRequest', `The upload was created using a ${uploaded} checksum. The complete request must use the same checksum algorithm.`);
  }
  // Neither: S3's default, a full-object CRC64NVME.
  const algorithm = uploaded ?? claim?.algorithm ?? DEFAULT_ALGORITHM;
  const type: ChecksumType = upload.checksumType ?? (claimType as ChecksumType | undefined) ?? (claim && /-\d+$/.test(claim.value) ? 'COMPOSITE' : 'FULL_OBJECT');
  if (type === 'COMPOSITE') {
    requested.forEach((q, i) => {
      if ((uploaded && q.checksums[algorithm] === undefined) || chosen[i]!.checksum?.algorithm !== algorithm) {
        throw new S3Error('InvalidRequest', `The upload was created using a ${algorithm} checksum. The complete request must include the checksum for each part. It was missing for part ${q.partNumber} in the request.`);
      }
    });
  }
  return { algorithm, type, claim: claim?.value };
}

export const completeMultipartUpload: Operation = async (d, r) => {
  const b = r.bucket;
  const key = r.key;
  const uploadId = r.query.get('uploadId') ?? '';
  await d.requireBucket(b);
  d.uploadDir(b, uploadId);
  requireSupportedWriteConditions(r.headers);
  // A client that retries a Complete that succeeded (its answer lost on the way) gets the same
  // answer, as S3 gives it.
  const earlier = await d.completedUpload(b, uploadId);
  if (earlier && earlier.key === key) {
    await readSmall(r.body);
    return answer(b, earlier);
  }
  const upload = await d.readUpload(b, key, uploadId);
  const doc = await readSmall(r.body);
  requireRoot(doc, 'CompleteMultipartUpload');
  const requested = parseParts(doc);
  if (requested.length === 0) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  return d.withLock(`upload:${uploadId}`, async () => {
    const done = await d.completedUpload(b, uploadId); // completed while we waited
    if (done && done.key === key) return answer(b, done);
    await d.readUpload(b, key, uploadId); // aborted while we waited
    const have = new Map((await d.readParts(b, uploadId)).map((p) => [p.partNumber, p]));
    const chosen: PartMeta[] = [];
    let prev = 0;
    for (const q of requested) {
      if (!Number.isInteger(q.partNumber) || q.partNumber <= prev) throw new S3Error('InvalidPartOrder');
      prev = q.partNumber;
      const p = have.get(q.partNumber);
      const checksumsMatch = Object.entries(q.checksums).every(([a, v]) => p?.checksum?.algorithm === a && p.checksum.value === v);
      if (!p || unquote(p.etag) !== unquote(q.etag) || !checksumsMatch) {
        throw new S3Error('InvalidPart', undefined, { UploadId: uploadId, PartNumber: String(q.partNumber), ETag: q.etag });
      }
      chosen.push(p);
    }
    chosen.forEach((p, i) => {
      if (i < chosen.length - 1 && p.size < MIN_PART) {
        throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(p.size), MinSizeAllowed: String(MIN_PART), PartNumber: String(p.partNumber), ETag: p.etag });
      }
    });
    const want = objectChecksum(upload, r.headers, requested, chosen);
    const partFiles = async function* (): AsyncGenerator<Buffer> {
      for (const p of chosen) {
        const fh = await open(d.partPath(b, uploadId, p), 'r');
        try {
          yield* fh.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>;
        } finally {
          await fh.close();
        }
      }
    };
    const whole = want?.type === 'FULL_OBJECT' ? createChecksum(want.algorithm) : undefined;
    const spooled = await d.spool(b, partFiles(), whole ? (c) => whole.update(c) : undefined);
    let checksum: StoredChecksum | undefined;
    if (want) {
      const value = whole ? whole.digest() : compositeOf(want.algorithm, chosen.map((p) => p.checksum!.value));
      if (want.claim !== undefined && want.claim !== value && want.claim !== `${value}-${chosen.length}`) {
        await rm(spooled.path, { force: true });
        throw checksumMismatch(want.algorithm);
      }
      checksum = { algorithm: want.algorithm, value, type: want.type };
    }
    const etagHash = createHash('md5');
    for (const p of chosen) etagHash.update(Buffer.from(unquote(p.etag), 'hex'));
    const meta: ObjectMeta = { key, size: spooled.size, etag: `"${etagHash.digest('hex')}-${chosen.length}"`, lastModified: Date.now(), headers: upload.headers };
    if (upload.tags?.length) meta.tags = upload.tags;
    if (upload.acl !== undefined) meta.acl = upload.acl;
    if (checksum) meta.checksum = checksum;
    meta.parts = chosen.map((p) => ({
      partNumber: p.partNumber, size: p.size, ...(p.checksum && p.checksum.algorithm === checksum?.algorithm ? { checksum: p.checksum.value } : {}),
    }));
    await d.commit(b, meta, spooled.path, (current) => checkWritePreconditions(r.headers, current));
    const completed: CompletedUpload = { key, etag: meta.etag, location: `/${b}/${encodeURIComponent(key).replace(/%2F/g, '/')}`, completed: Date.now() };
    if (checksum) {
      completed.checksum = checksum;
      completed.parts = chosen.length;
    }
    await d.markCompleted(b, uploadId, completed);
    return answer(b, completed);
  }, d.uploadLock(b, uploadId));
};
