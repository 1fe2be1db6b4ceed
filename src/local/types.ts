// The local store's request and response, and what it keeps on disk for each object, upload
// and bucket. Every file under src/local/ops/ speaks these.

export interface LocalRequest {
  method: string;
  bucket?: string;
  key?: string;
  query: URLSearchParams;
  /** lower-case names */
  headers: Record<string, string>;
  /** already authenticated, decoded, verified */
  body: NodeJS.ReadableStream;
  /**
   * The request reached s3gate unsigned (set by src/forward/local.ts). The store then decides
   * by its canned ACLs, as S3 does for anonymous requests.
   */
  anonymous?: boolean;
  /**
   * An aws-chunked body's trailer checksums (`x-amz-checksum-<alg>` → base64), which payload/
   * verified over the decoded bytes; complete once `body` ended, empty before.
   */
  trailerChecksums?: () => Record<string, string>;
}

export interface LocalResponse {
  status: number;
  headers: Record<string, string>;
  body?: NodeJS.ReadableStream | Buffer | string;
}

/** One of S3's canned ACLs; the store keeps ACLs only in this form. */
export type CannedAcl = 'private' | 'public-read' | 'public-read-write' | 'authenticated-read' | 'bucket-owner-read' | 'bucket-owner-full-control';

export interface Tag {
  Key: string;
  Value: string;
}

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256';
export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE';

/** A checksum the store computed over the bytes it holds (composite: over the parts' digests). */
export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  /** base64 as on the wire; a composite one without its `-<parts>` suffix */
  value: string;
  type: ChecksumType;
}

/** One part of a multipart object, in the object's order. */
export interface ObjectPart {
  partNumber: number;
  size: number;
  /** base64, of the object's checksum algorithm */
  checksum?: string;
}

export interface ObjectMeta {
  key: string;
  size: number;
  /** quoted, as sent in the ETag header */
  etag: string;
  lastModified: number;
  /** content-* headers, cache-control, expires and x-amz-meta-* as the client sent them */
  headers: Record<string, string>;
  /**
   * The data file's name in the bucket directory. Each write lands its bytes under a fresh name
   * and the sidecar's rename is the one commit point, so bytes and metadata change together.
   * Absent in sidecars written before this field existed: the data then sits at the key's name.
   */
  data?: string;
  tags?: Tag[];
  acl?: CannedAcl;
  checksum?: StoredChecksum;
  /** present for an object made by CompleteMultipartUpload */
  parts?: ObjectPart[];
}

export interface UploadMeta {
  key: string;
  uploadId: string;
  initiated: number;
  headers: Record<string, string>;
  tags?: Tag[];
  acl?: CannedAcl;
  /** CreateMultipartUpload's x-amz-checksum-algorithm and -type: every part carries one */
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
}

export interface PartMeta {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: number;
  /** the part's data file in the upload directory (absent: named by the part number) */
  data?: string;
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

export interface BucketMeta {
  created: number;
  location: string;
  tags?: Tag[];
  acl?: CannedAcl;
}
