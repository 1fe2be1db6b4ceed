// S3 answers a Range the object cannot satisfy (any Range of an empty object) with 416
// InvalidRange naming RangeRequested and ActualObjectSize; smart_open reads the size from it to
// open an empty object, or one read from past its end. RGW 16 names neither ("KeyError:
// 'ActualObjectSize'" through RGW alone). s3gate asks the provider's HEAD of the object.
import type { Upstream } from '../config/types.js';
import { callUpstream } from '../forward/client.js';
import { escapeXml } from '../s3/errors.js';
import { drain } from './io.js';

/** The object's size at the provider, undefined when its HEAD does not tell it. */
async function providerObjectSize(up: Upstream, bucket: string, key: string, versionId: string | undefined): Promise<number | undefined> {
  const r = await callUpstream(up, { operation: 'HeadObject', method: 'HEAD', bucket, key, ...(versionId !== undefined ? { query: [['versionId', versionId]] } : {}) });
  await drain(r);
  const length = r.headers['content-length'];
  return r.status === 200 && typeof length === 'string' && /^\d+$/.test(length) ? Number(length) : undefined;
}

/** A provider's InvalidRange document with S3's RangeRequested and ActualObjectSize, where it lacks them. */
export async function withActualObjectSize(
  xml: string, up: Upstream, bucket: string, key: string, versionId: string | undefined, range: string | undefined,
): Promise<string> {
  const end = xml.lastIndexOf('</Error>');
  if (end < 0 || xml.includes('<ActualObjectSize>') || !xml.includes('<Code>InvalidRange</Code>')) return xml;
  const size = await providerObjectSize(up, bucket, key, versionId);
  if (size === undefined) return xml;
  const requested = range !== undefined && !xml.includes('<RangeRequested>') ? `<RangeRequested>${escapeXml(range)}</RangeRequested>` : '';
  return `${xml.slice(0, end)}${requested}<ActualObjectSize>${size}</ActualObjectSize>${xml.slice(end)}`;
}
