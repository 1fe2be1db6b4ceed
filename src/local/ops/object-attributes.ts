// GetObjectAttributes: what HeadObject and ListParts would tell, for the attributes the request
// names in x-amz-object-attributes; ObjectParts is paged by x-amz-max-parts and
// x-amz-part-number-marker.
import { S3Error } from '../../s3/errors.js';
import { checksumElements } from '../checksums.js';
import { httpDate, intParam, storageClassOf, unquote, xml } from '../http.js';
import type { Operation } from '../op.js';
import type { ObjectMeta } from '../types.js';
import type { XmlNode } from '../xml.js';

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'];

function requested(h: Record<string, string>): Set<string> {
  const names = (h['x-amz-object-attributes'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new S3Error('InvalidRequest', 'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty');
  for (const n of names) if (!ATTRIBUTES.includes(n)) throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', { ArgumentName: 'x-amz-object-attributes', ArgumentValue: n });
  return new Set(names);
}

/** Header values, read as the query parameters ListParts takes. */
function headerParams(h: Record<string, string>): URLSearchParams {
  const q = new URLSearchParams();
  if (h['x-amz-max-parts'] !== undefined) q.set('x-amz-max-parts', h['x-amz-max-parts']);
  if (h['x-amz-part-number-marker'] !== undefined) q.set('x-amz-part-number-marker', h['x-amz-part-number-marker']);
  return q;
}

function objectParts(meta: ObjectMeta, h: Record<string, string>): Record<string, XmlNode> | undefined {
  const parts = meta.parts;
  if (!parts) return undefined;
  const q = headerParams(h);
  const maxParts = intParam(q, 'x-amz-max-parts', 1000, 1000);
  const marker = intParam(q, 'x-amz-part-number-marker', 0, 10000);
  const after = parts.filter((p) => p.partNumber > marker);
  const page = after.slice(0, maxParts);
  const truncated = after.length > page.length;
  const algorithm = meta.checksum?.algorithm;
  return {
    PartsCount: parts.length,
    PartNumberMarker: marker,
    NextPartNumberMarker: page.length ? page[page.length - 1]!.partNumber : marker,
    MaxParts: maxParts,
    IsTruncated: truncated,
    // S3 lists the parts only of an object uploaded with checksums.
    Part: algorithm && parts.every((p) => p.checksum !== undefined)
      ? page.map((p) => ({ PartNumber: p.partNumber, Size: p.size, ...checksumElements({ algorithm, value: p.checksum! }) }))
      : undefined,
  };
}

export const getObjectAttributes: Operation = async (d, r) => {
  const want = requested(r.headers);
  await d.requireBucket(r.bucket);
  const meta = await d.readMeta(r.bucket, r.key);
  const body: Record<string, XmlNode> = {};
  if (want.has('ETag')) body.ETag = unquote(meta.etag);
  if (want.has('Checksum') && meta.checksum) body.Checksum = checksumElements(meta.checksum);
  if (want.has('ObjectParts')) body.ObjectParts = objectParts(meta, r.headers);
  if (want.has('StorageClass')) body.StorageClass = storageClassOf(meta.headers);
  if (want.has('ObjectSize')) body.ObjectSize = meta.size;
  return xml(200, 'GetObjectAttributesResponse', body, { 'last-modified': httpDate(meta.lastModified) });
};
