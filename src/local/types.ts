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
}

export interface UploadMeta {
  key: string;
  uploadId: string;
  initiated: number;
  headers: Record<string, string>;
  tags?: Tag[];
  acl?: CannedAcl;
}

export interface PartMeta {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: number;
  /** the part's data file in the upload directory (absent: named by the part number) */
  data?: string;
}

export interface BucketMeta {
  created: number;
  location: string;
  tags?: Tag[];
  acl?: CannedAcl;
}
