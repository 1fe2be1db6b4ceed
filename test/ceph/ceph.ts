// A real Ceph RGW on loopback for tests: `await ensureCeph()` in a beforeAll.
// The cluster outlives the test process on purpose (starting it costs seconds,
// reusing it costs nothing); `test/ceph/rgw.sh stop` removes it.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = fileURLToPath(new URL('./rgw.sh', import.meta.url));

export interface CephUser {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface CephInfo {
  endpoint: string;
  /** RGW's rgw_dns_name: it accepts only this, BUCKET.this, and 127.0.0.1 as Host. */
  dnsName: string;
  users: { a: CephUser; b: CephUser };
}

let pending: Promise<CephInfo> | undefined;

/**
 * Starts the RGW once per process. Several vitest workers may call this at the
 * same time: the script serializes them with flock and is a no-op when the
 * cluster already answers.
 */
export function ensureCeph(): Promise<CephInfo> {
  pending ??= start();
  // A failed start is not cached, so a later call can retry.
  pending.catch(() => {
    pending = undefined;
  });
  return pending;
}

async function start(): Promise<CephInfo> {
  try {
    await run('bash', [script, 'start'], { timeout: 10 * 60_000, maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`test/ceph/rgw.sh start failed: ${e.stderr?.trim() || e.message}`);
  }
  const { stdout } = await run('bash', [script, 'env']);
  const env = parseEnv(stdout);
  return {
    endpoint: need(env, 'S3GATE_CEPH_ENDPOINT'),
    dnsName: need(env, 'S3GATE_CEPH_DNS_NAME'),
    users: {
      a: {
        accessKeyId: need(env, 'S3GATE_CEPH_A_ACCESS_KEY_ID'),
        secretAccessKey: need(env, 'S3GATE_CEPH_A_SECRET_ACCESS_KEY'),
      },
      b: {
        accessKeyId: need(env, 'S3GATE_CEPH_B_ACCESS_KEY_ID'),
        secretAccessKey: need(env, 'S3GATE_CEPH_B_SECRET_ACCESS_KEY'),
      },
    },
  };
}

// `rgw.sh env` prints NAME=value lines (values are plain [A-Za-z0-9:/.-]).
function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env.set(m[1]!, m[2]!);
  }
  return env;
}

function need(env: Map<string, string>, name: string): string {
  const v = env.get(name);
  if (v === undefined) throw new Error(`rgw.sh env did not print ${name}`);
  return v;
}
