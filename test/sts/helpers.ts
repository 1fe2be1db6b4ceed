// Shared pieces of the STS tests: an STS client pointed at s3gate, S3 clients on temporary
// credentials, and a config with roles and sealing keys.
import { S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient, type AssumeRoleCommandInput } from '@aws-sdk/client-sts';
import { execFile } from 'node:child_process';
import { testRequestHandler } from '../upstream/resolve.js';

export interface TempCreds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export const SEAL_K1 = { id: 'k1', secret: 'sealing-secret-one-0123456789abcdefghij' };
export const SEAL_K2 = { id: 'k2', secret: 'sealing-secret-two-0123456789abcdefghij' };

export function sts(endpoint: string, creds?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): STSClient {
  return new STSClient({
    endpoint, region: 'us-east-1', requestHandler: testRequestHandler(), maxAttempts: 1,
    ...(creds ? { credentials: { ...creds } } : { credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' } }),
  });
}

export async function assume(endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, input: Partial<AssumeRoleCommandInput> = {}): Promise<TempCreds> {
  const out = await sts(endpoint, creds).send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/uploader', RoleSessionName: 'tests', ...input }));
  const c = out.Credentials!;
  return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
}

export function s3(endpoint: string, creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): S3Client {
  return new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...creds }, requestHandler: testRequestHandler(), maxAttempts: 1,
  });
}

/** Runs the AWS CLI with only these credentials in its environment; JSON output parsed. */
export function awsCli(args: string[], env: Record<string, string>): Promise<{ code: number; out: unknown; stderr: string }> {
  return new Promise((resolve) => {
    execFile('aws', args, {
      env: { PATH: process.env.PATH ?? '', HOME: '/tmp', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', ...env },
      timeout: 120_000,
    }, (e, stdout, stderr) => {
      let out: unknown = stdout;
      try {
        out = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch { /* not JSON */ }
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, stderr });
    });
  });
}

export const BOTO_S3 = `
def s3_for(c, sig='s3v4'):
    return boto3.client('s3', endpoint_url=EP, region_name='us-east-1', aws_access_key_id=c['AccessKeyId'],
        aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['SessionToken'],
        config=Config(signature_version=sig, s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
def code(f):
    try:
        f()
        return 'ok'
    except Exception as e:
        return getattr(e, 'response', {}).get('Error', {}).get('Code', repr(e))
`;
