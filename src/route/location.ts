// A CreateBucket names where the bucket goes. A client names the region it signs for: s3gate's
// own, `auto` (R2's settings, Bun; the AWS CLI's `s3 mb` sends its region as the constraint), a
// name the operator accepts, or none at all (`aws-global`). For the provider that means wherever
// its endpoint serves, which the upstream's `region` says: AWS refuses an explicit us-east-1
// (InvalidLocationConstraint), so there it is no constraint at all, and RGW refuses any name but
// its zonegroup's. Any other name goes to the provider as the client wrote it: GCS and AWS's
// us-east-1 endpoint make a bucket elsewhere by it, and a provider that cannot refuses it.
import type { AcceptRegions } from '../authenticate/sigv4.js';
import { regionAccepted } from '../authenticate/sigv4.js';
import { escapeXml, unescapeXml } from '../s3/errors.js';

const CONSTRAINT = /<LocationConstraint(?:\s[^>]*)?>([^<]*)<\/LocationConstraint>/;

/**
 * The CreateBucketConfiguration to send the provider in place of `xml`, or undefined to send it
 * as it came. An empty string: no configuration left to send.
 */
export function providerLocation(xml: string, gatewayRegion: string, accept: AcceptRegions | undefined, upstreamRegion: string): string | undefined {
  const m = CONSTRAINT.exec(xml);
  if (!m) return undefined;
  const named = unescapeXml(m[1]!).trim();
  // `aws-global`: botocore's name for S3's global endpoint, which the AWS CLI 2.9 with no region
  // configured signs for as us-east-1 and sends as `s3 mb`'s constraint.
  if (named === '' || (named !== 'aws-global' && !regionAccepted(named, gatewayRegion, accept))) return undefined;
  if (named === upstreamRegion && upstreamRegion !== 'us-east-1') return undefined;
  const located = upstreamRegion === 'us-east-1' ? '' : `<LocationConstraint>${escapeXml(upstreamRegion)}</LocationConstraint>`;
  const out = xml.slice(0, m.index) + located + xml.slice(m.index + m[0].length);
  // Nothing but an empty configuration element (and the XML declaration) left: no body at all.
  return /^\s*(?:<\?xml[^>]*\?>)?\s*<CreateBucketConfiguration(?:\s[^>]*)?>\s*<\/CreateBucketConfiguration>\s*$/.test(out) ? '' : out;
}
