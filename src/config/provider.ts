// A provider profile: everything s3gate needs to know about how one S3 implementation
// wants to be spoken to. Presets live in config/providers/*.yaml; an upstream names one
// and may override any field. Code reads these fields; it never branches on a provider name.

export type SignatureVersion = 'v2' | 'v4';

/** Operation groups a profile can assign a signature version to. */
export type OperationGroup = 'data' | 'metadata' | 'bucket' | 'multipart';

/** How the upstream accepts request payloads that s3gate forwards. */
export type OutboundPayload =
  /** decoded body, Content-Length set, x-amz-content-sha256: UNSIGNED-PAYLOAD (or the client's declared hex sha256) */
  | 'unsigned'
  /** decoded body, Content-Length set, always a real hex sha256 (the provider refuses UNSIGNED-PAYLOAD) */
  | 'sha256'
  /** re-chunked as STREAMING-AWS4-HMAC-SHA256-PAYLOAD with s3gate's own chunk signatures */
  | 'signed-chunked';

export interface ProviderProfile {
  /** preset id, the file name without .yaml */
  name: string;
  /** human name for the README table */
  title: string;
  /** the software behind it, e.g. "Ceph RGW 16 (Pacific)" */
  implementation?: string;
  /** 'path' or 'virtual': how s3gate addresses the provider */
  addressing: 'path' | 'virtual';
  /** default region when the upstream does not set one */
  region?: string;
  signing: {
    /** signature used unless an operation group or operation says otherwise */
    default: SignatureVersion;
    /** per operation group, e.g. { data: v2, metadata: v4 } for Dell ECS */
    groups?: Partial<Record<OperationGroup, SignatureVersion>>;
    /** per S3 operation name (GetObject, PutObject, ListObjectsV2, ...), wins over groups */
    operations?: Record<string, SignatureVersion>;
  };
  payload: {
    /** how s3gate sends request bodies */
    outbound: OutboundPayload;
    /** the provider accepts Content-Encoding: aws-chunked with STREAMING-UNSIGNED-PAYLOAD-TRAILER */
    acceptsUnsignedTrailer: boolean;
  };
  checksums: {
    /** x-amz-checksum-* algorithms the provider accepts in request headers (lowercase: crc32, crc32c, crc64nvme, sha1, sha256) */
    headerAlgorithms: string[];
    /** the provider honours x-amz-checksum-mode: ENABLED on GET/HEAD */
    checksumMode: boolean;
    /** operations for which the provider demands Content-MD5 (e.g. DeleteObjects on OVH) */
    contentMd5Required: string[];
  };
  /**
   * Conditional PutObject as S3 defines it, checked when the upload commits. A client's
   * conditional write or delete that the provider does not check is refused (route/conditions.ts).
   * s3gate's own writes (copy-on-read) send If-None-Match: * where `ifNoneMatch` is true;
   * elsewhere they check right before the commit and a small race window remains (docs/migration.md).
   */
  conditionalWrites: {
    /** If-None-Match: * on PutObject answers 412 when the key exists */
    ifNoneMatch: boolean;
    /**
     * If-Match: ETAG on PutObject answers 412 unless the key holds that ETag. `unquoted`: the
     * provider checks it, but matches only an ETag sent without its quotes (RGW 16), so s3gate
     * sends it so (route/conditions.ts).
     */
    ifMatch: boolean | 'unquoted';
    /** CompleteMultipartUpload honours the same two (s3gate migrate's multipart copies); default false */
    onComplete?: boolean;
    /** CopyObject honours the same two on its destination; default false */
    onCopy?: boolean;
    /** DeleteObject honours If-Match (and DeleteObjects an <ETag> per object); default false */
    onDelete?: boolean;
  };
  /**
   * Where the provider reads a CopyObject's source conditions (x-amz-copy-source-if-match,
   * -none-match, -modified-since, -unmodified-since). `rgw`: only under Ceph RGW's own names,
   * x-amz-copy-if-* (rgw_rest_s3.cc), so S3's are renamed on the way (route/conditions.ts); RGW 16
   * ignored S3's and copied whatever the source held. On UploadPartCopy RGW checks neither name,
   * and s3gate checks them against a HEAD of the source. Default: under S3's names.
   */
  copySourceConditions?: 's3' | 'rgw';
  /**
   * The provider keeps per-object canned ACLs: it honours `x-amz-acl` on PutObject and answers
   * GetObjectAcl with the grants. Migrations carry an object's canned ACL only where both sides
   * do (src/route/object-acl.ts); a provider that ignores `x-amz-acl` must say false.
   */
  cannedAcls: boolean;
  /**
   * Sub-resources the provider does not know, and in whose place it runs the plain bucket or
   * object operation (RGW 16 lists the bucket for GET ?encryption and deletes it for DELETE
   * ?encryption). Requests naming them answer 501 NotImplemented and are not sent
   * (route/provider-support.ts). Query names, as S3 spells them; default none.
   */
  unknownSubresources?: { bucket?: string[]; object?: string[] };
  /**
   * Under `encoding-type=url` the provider encodes only the keys (Key, CommonPrefixes' Prefix) of
   * ListObjects, ListObjectsV2 and ListObjectVersions, and echoes Prefix, Delimiter, Marker,
   * NextMarker, StartAfter, KeyMarker and NextKeyMarker raw (RGW 16). Clients decode all of them,
   * so a '+' or a '%' in a raw NextMarker names another key, and boto3's and rclone's v1
   * paginators repeat pages or never end. s3gate encodes those fields in the answer as S3 does
   * (rewrite/response.ts). Default false.
   */
  listingEncodesKeysOnly?: boolean;
  tls: {
    /** verify the provider's certificate */
    verify: boolean;
    /** PEM bundle path for a private CA */
    ca?: string;
  };
  /** every quirk above with the public page that documents it */
  sources: { quirk: string; url: string }[];
}

/** Operation → group, for the profile's `signing.groups`. Unlisted operations use `default`. */
export const OPERATION_GROUPS: Record<string, OperationGroup> = {
  GetObject: 'data',
  PutObject: 'data',
  DeleteObject: 'data',
  CopyObject: 'data',
  DeleteObjects: 'data',
  HeadObject: 'metadata',
  HeadBucket: 'metadata',
  ListObjects: 'metadata',
  ListObjectsV2: 'metadata',
  ListObjectVersions: 'metadata',
  ListBuckets: 'metadata',
  ListMultipartUploads: 'metadata',
  ListParts: 'metadata',
  CreateMultipartUpload: 'multipart',
  UploadPart: 'multipart',
  UploadPartCopy: 'multipart',
  CompleteMultipartUpload: 'multipart',
  AbortMultipartUpload: 'multipart',
  CreateBucket: 'bucket',
  DeleteBucket: 'bucket',
};

export function signatureFor(profile: ProviderProfile, operation: string): SignatureVersion {
  const byOp = profile.signing.operations?.[operation];
  if (byOp) return byOp;
  const group = OPERATION_GROUPS[operation];
  const byGroup = group ? profile.signing.groups?.[group] : undefined;
  return byGroup ?? profile.signing.default;
}
