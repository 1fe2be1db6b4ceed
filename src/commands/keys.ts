// `s3gate keys new`: a fresh gateway access key and secret, and the `keys:` entry to paste.
// Nothing is read from or written to a config: the operator decides where the secret lives.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ACTIONS, GRANT_BUCKET_PATTERN, type Action } from '../config/types.js';

const USAGE = `usage: s3gate keys new [--bucket NAME] [--actions read,list] [--inline] [--json]

Prints a new access key id (S3G + 17 uppercase letters/digits) and a 40-character secret,
with a keys: entry for proxy.yaml. The entry reads the secret from an environment variable
unless --inline puts it in the file.

  --bucket NAME      the grant's bucket (default "*")
  --actions LIST     comma-separated, from ${ACTIONS.join(', ')} (default read,list)
  --inline           put the secret itself in the YAML entry
  --json             machine-readable output
`;

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `S3G` + 17 characters from A-Z0-9, uniformly: bytes past the last multiple of 36 are redrawn. */
export function newAccessKeyId(): string {
  const limit = 256 - (256 % ID_ALPHABET.length);
  let id = 'S3G';
  while (id.length < 20) {
    for (const b of randomBytes(32)) {
      if (b >= limit) continue;
      id += ID_ALPHABET[b % ID_ALPHABET.length];
      if (id.length === 20) break;
    }
  }
  return id;
}

/**
 * 30 random bytes are exactly 40 base64url characters (240 bits). base64url rather than base64
 * because '+' and '/' get mangled in shells, URLs and env files, and '=' padding never appears.
 */
export function newSecret(): string {
  return randomBytes(30).toString('base64url');
}

export function envNameFor(accessKeyId: string): string {
  return `S3GATE_SECRET_${accessKeyId.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`;
}

export interface NewKey {
  accessKeyId: string;
  secretAccessKey: string;
  /** the variable the YAML entry reads the secret from (absent with --inline) */
  env?: string;
  yaml: string;
}

export function makeKey(opts: { bucket?: string; actions?: Action[]; inline?: boolean } = {}): NewKey {
  const accessKeyId = newAccessKeyId();
  const secretAccessKey = newSecret();
  const env = opts.inline ? undefined : envNameFor(accessKeyId);
  const bucket = JSON.stringify(opts.bucket ?? '*');
  const actions = (opts.actions ?? ['read', 'list']).join(', ');
  // base64url has no quote or backslash, so JSON quoting is valid YAML for the inline secret.
  const secretField = env ? `\${${env}}` : JSON.stringify(secretAccessKey);
  const yaml = [
    `  - accessKeyId: ${accessKeyId}`,
    `    secretAccessKey: ${secretField}`,
    `    allow:`,
    `      - { bucket: ${bucket}, actions: [${actions}] }`,
    '',
  ].join('\n');
  return { accessKeyId, secretAccessKey, ...(env ? { env } : {}), yaml };
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        bucket: { type: 'string' },
        actions: { type: 'string' },
        inline: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (e) {
    process.stderr.write(`s3gate keys: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'new') {
    process.stderr.write(`s3gate keys: ${positionals.length ? `unknown subcommand "${positionals.join(' ')}"` : 'missing subcommand'}\n${USAGE}`);
    return 2;
  }
  let actions: Action[] | undefined;
  if (values.actions !== undefined) {
    const list = values.actions.split(',').map((a) => a.trim()).filter(Boolean);
    const bad = list.filter((a) => !ACTIONS.includes(a as Action));
    if (!list.length || bad.length) {
      process.stderr.write(`s3gate keys: --actions ${values.actions}: ${bad.length ? `unknown action ${bad.join(', ')}` : 'empty'}; known: ${ACTIONS.join(', ')}\n`);
      return 2;
    }
    actions = list as Action[];
  }
  if (values.bucket !== undefined && values.bucket !== '*' && values.bucket.includes('*')) {
    process.stderr.write(`s3gate keys: --bucket ${GRANT_BUCKET_PATTERN(values.bucket)}\n`);
    return 2;
  }
  const key = makeKey({
    ...(values.bucket !== undefined ? { bucket: values.bucket } : {}),
    ...(actions ? { actions } : {}),
    ...(values.inline ? { inline: true } : {}),
  });
  if (values.json) {
    process.stdout.write(JSON.stringify(key) + '\n');
    return 0;
  }
  const out = [
    `access key id:     ${key.accessKeyId}`,
    `secret access key: ${key.secretAccessKey}`,
    '',
    '# under keys: in proxy.yaml',
    key.yaml.trimEnd(),
  ];
  if (key.env) {
    out.push('', '# in the gateway\'s environment (an env file, a Kubernetes Secret, ...)', `${key.env}=${key.secretAccessKey}`);
  }
  out.push('', '# Nothing was saved: this output is the only copy of the secret.', '');
  process.stdout.write(out.join('\n'));
  return 0;
}
