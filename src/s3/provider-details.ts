// Which S3 answers carry the provider's own account details, decided per sub-resource
// (docs/security.md, "Provider details"). Shared by authorize (who may read them) and rewrite.

/**
 * Bucket and object settings whose answers carry the provider's account: policies and
 * replication (account ids and ARNs), logging (the provider's log bucket, grantee ids),
 * notifications (topic, queue and function ARNs), encryption (KMS key ARNs), ACLs (canonical
 * user ids, e-mail grantees). Reading them needs admin on the bucket: they are the provider's
 * configuration, and only an operator of it has a use for them.
 */
export const PROVIDER_DETAIL_READS: ReadonlySet<string> = new Set([
  'GetBucketPolicy', 'GetBucketPolicyStatus', 'GetBucketReplication', 'GetBucketLogging', 'GetBucketNotificationConfiguration',
  'GetBucketEncryption', 'GetBucketAcl', 'GetObjectAcl', 'GetBucketInventoryConfiguration', 'GetBucketAnalyticsConfiguration',
  'GetBucketMetricsConfiguration', 'GetBucketIntelligentTieringConfiguration', 'GetBucketMetadataTableConfiguration',
  'GetBucketMetadataConfiguration',
]);
