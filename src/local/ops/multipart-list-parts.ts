import { intParam, OWNER, storageClassOf, xml } from '../http.js';
import { checksumElements } from '../checksums.js';
import type { Operation } from '../op.js';

export const listParts: Operation = async (d, r) => {
  const b = r.bucket;
  const uploadId = r.query.get('uploadId') ?? '';
  const upload = await d.readUpload(b, r.key, uploadId);
  const maxParts = intParam(r.query, 'max-parts', 1000, 1000);
  const marker = intParam(r.query, 'part-number-marker', 0, 10000);
  const all = (await d.readParts(b, uploadId)).filter((p) => p.partNumber > marker);
  const page = all.slice(0, maxParts);
  const truncated = all.length > page.length;
  return xml(200, 'ListPartsResult', {
    Bucket: b,
    Key: r.key,
    UploadId: uploadId,
    Initiator: OWNER,
    Owner: OWNER,
    StorageClass: storageClassOf(upload.headers),
    ChecksumAlgorithm: upload.checksumAlgorithm?.toUpperCase(),
    ChecksumType: upload.checksumType,
    PartNumberMarker: marker,
    NextPartNumberMarker: page.length ? page[page.length - 1]!.partNumber : marker,
    MaxParts: maxParts,
    IsTruncated: truncated,
    Part: page.map((p) => ({ PartNumber: p.partNumber, LastModified: new Date(p.lastModified).toISOString(), ETag: p.etag, Size: p.size, ...checksumElements(p.checksum) })),
  });
};
