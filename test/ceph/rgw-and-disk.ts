// The gateway several RGW tests compare two places with: every bucket on this RGW through the
// `linode` preset, and the bucket `disk` on s3gate's local store. And libs3's `s3` tool, which
// reads answers byte for byte, pointed at such a gateway.
import { execFile } from 'node:child_process';
import type { CephInfo } from './ceph.js';
import { GW_KEY, startTestGateway, tmpDir } from '../helpers/gateway.js';

export const ALL_ACTIONS = { ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] };

export function rgwAndDiskGateway(ceph: CephInfo, tag: string, keys: unknown[] = [ALL_ACTIONS]): ReturnType<typeof startTestGateway> {
  return startTestGateway({
    domains: ['127.0.0.1'],
    keys,
    upstreams: {
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a },
      disk: { provider: 'local', path: tmpDir(`s3gate-${tag}-`) },
    },
    buckets: { disk: { upstream: 'disk' }, '*': { upstream: 'rgw' } },
  });
}

/** libs3's `s3` (SigV2, path style, HTTP) with GW_KEY against `gatewayUrl`: its output, or a rejection with its stderr. */
export function libs3(gatewayUrl: string, ...args: string[]): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile('s3', ['-u', ...args], {
      env: { PATH: process.env.PATH ?? '', S3_ACCESS_KEY_ID: GW_KEY.accessKeyId, S3_SECRET_ACCESS_KEY: GW_KEY.secretAccessKey, S3_HOSTNAME: new URL(gatewayUrl).host },
      timeout: 30_000,
    }, (e, stdout, stderr) => (e ? reject(new Error(`${e.message} ${stdout} ${stderr}`)) : resolve(stdout)));
  });
}
