// A throwaway CA-less self-signed certificate for the HTTPS listener, made with openssl.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from './gateway.js';

export interface TestCert {
  cert: string;
  key: string;
  pem: Buffer;
}

export function selfSignedCert(names: string[]): TestCert {
  const dir = tmpDir('s3gate-tls-');
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  const cnf = join(dir, 'openssl.cnf');
  const san = names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  writeFileSync(cnf, `[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n[dn]\nCN=${names[0]}\n[ext]\nsubjectAltName=${san}\nbasicConstraints=critical,CA:TRUE\n`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', key, '-out', cert, '-config', cnf], { stdio: 'ignore' });
  return { cert, key, pem: readFileSync(cert) };
}
