// The deployment files are code too: each parses, the probes point at the admin listener the
// config opens, and the proxy.yaml they ship loads with the environment they give it.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { buildConfig, protectReferences } from '../../src/config/load.js';

const ROOT = join(import.meta.dirname, '../..');
const K8S = join(ROOT, 'deploy/kubernetes');

// Manifests are walked loosely: the assertions are the schema.
type Obj = Record<string, any>;

function docs(file: string): Obj[] {
  const all = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true });
  for (const d of all) expect(d.errors, file).toEqual([]);
  return all.map((d) => d.toJS() as Obj);
}

const manifests = readdirSync(K8S).filter((f) => f.endsWith('.yaml')).flatMap((f) => docs(join(K8S, f)));
const kind = (k: string) => {
  const found = manifests.filter((m) => m.kind === k);
  expect(found, k).toHaveLength(1);
  return found[0]!;
};

/** A config document as s3gate reads it: ${VAR} references left for the loader. */
function loadProxyYaml(text: string, env: Record<string, string>) {
  return buildConfig(parse(protectReferences(text)), ROOT, { env });
}

describe('deploy/kubernetes', () => {
  it('every file parses; the kustomization lists each manifest', () => {
    const files = readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    expect(kind('Kustomization').resources.slice().sort()).toEqual(files);
    for (const m of manifests.filter((x) => x.kind !== 'Kustomization')) {
      expect(m.apiVersion, m.kind).toBeTruthy();
      expect(m.metadata.name, m.kind).toBeTruthy();
    }
  });

  it('the Deployment: 3 replicas, probes on the admin port, drain before SIGKILL, locked down', () => {
    const d = kind('Deployment');
    expect(d.spec.replicas).toBe(3);
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    const port = (p: string | number) => (typeof p === 'number' ? p : c.ports.find((x: Obj) => x.name === p).containerPort);
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(port(c.readinessProbe.httpGet.port)).toBe(9090);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(port(c.livenessProbe.httpGet.port)).toBe(9090);
    expect(port('http')).toBe(8080);

    expect(pod.terminationGracePeriodSeconds).toBe(60);
    expect(c.lifecycle.preStop.exec.command).toEqual(['sleep', '10']);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources.limits.memory).toBeTruthy();

    // The config comes from the ConfigMap as a directory (a subPath mount never updates).
    const mount = c.volumeMounts.find((v: Obj) => v.mountPath === '/etc/s3gate');
    expect(mount.subPath).toBeUndefined();
    expect(pod.volumes.find((v: Obj) => v.name === mount.name).configMap.name).toBe(kind('ConfigMap').metadata.name);
    expect(c.args).toEqual(['--config', '/etc/s3gate/proxy.yaml']);
    expect(c.envFrom[0].secretRef.name).toBe(kind('Secret').metadata.name);
  });

  it('the Service and the PodDisruptionBudget select the Deployment\'s pods', () => {
    const labels = kind('Deployment').spec.template.metadata.labels;
    const svc = kind('Service');
    expect(svc.spec.selector).toEqual(labels);
    expect(svc.spec.ports.map((p: Obj) => p.targetPort)).toEqual(['http']);
    const pdb = kind('PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it('the ConfigMap\'s proxy.yaml loads with the Secret\'s values, and its drain fits the grace period', () => {
    const secret = kind('Secret').stringData as Record<string, string>;
    const cfg = loadProxyYaml(kind('ConfigMap').data['proxy.yaml'], secret);
    expect(cfg.admin).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(cfg.listen).toEqual([{ host: '0.0.0.0', port: 8080 }]);
    expect(cfg.trustedProxies.length).toBeGreaterThan(0);
    const [key] = [...cfg.keys.values()];
    expect(key!.secretAccessKey).toBe(secret[`S3GATE_SECRET_${key!.accessKeyId}`]);
    expect(cfg.upstreams.get('linode')!.credentials).toEqual({ accessKeyId: secret.LINODE_KEY, secretAccessKey: secret.LINODE_SECRET });
    const preStop = 10;
    expect(preStop + cfg.timeouts.shutdown / 1000).toBeLessThan(kind('Deployment').spec.template.spec.terminationGracePeriodSeconds);
    // Every variable the config reads is in the Secret: nothing is left to a default by accident.
    expect(() => loadProxyYaml(kind('ConfigMap').data['proxy.yaml'], {})).toThrow(/LINODE_KEY is not set/);
  });
});

describe('docker-compose.yml', () => {
  const compose = docs(join(ROOT, 'docker-compose.yml'))[0]!;

  it('builds s3gate from the Dockerfile, in front of MinIO, after the bucket exists', () => {
    const s = compose.services.s3gate;
    expect(s.build).toBe('.');
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
    expect(s.depends_on).toMatchObject({ minio: { condition: 'service_healthy' }, 'minio-init': { condition: 'service_completed_successfully' } });
    expect(compose.services.minio.image).toMatch(/minio\/minio/);
    expect(compose.services['minio-init'].command[0]).toContain('mc mb --ignore-existing local/media-prod');
  });

  it('the mounted proxy.yaml loads with the environment compose gives s3gate and points at the minio service', () => {
    const s = compose.services.s3gate;
    const mount = (s.volumes as string[]).find((v) => v.endsWith(':/etc/s3gate/proxy.yaml:ro'))!;
    const file = join(ROOT, mount.split(':')[0]!);
    expect(s.command).toEqual(['--config', '/etc/s3gate/proxy.yaml']);
    // Compose's own ${VAR:-default} interpolation, with nothing set: the defaults.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.environment as Record<string, string>)) env[k] = String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
    const cfg = loadProxyYaml(readFileSync(file, 'utf8'), env);
    const minio = cfg.upstreams.get('minio')!;
    expect(minio.endpoint.host).toBe('minio:9000');
    expect(minio.credentials.accessKeyId).toBe(env.MINIO_ROOT_USER);
    expect(cfg.buckets.get('media')!.bucket).toBe('media-prod');
    expect(cfg.admin?.port).toBe(9090);
    expect(Number(String(s.ports[0]).split(':').pop())).toBe(cfg.listen[0]!.port);
  });
});

describe('Dockerfile', () => {
  it('starts node with the same flags as `npm start`, which the bench measures', () => {
    const start = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start as string;
    const flags = /^node((?:\s+--\S+)*)\s+dist\/cli\.js /.exec(start)![1]!.trim().split(/\s+/);
    expect(flags).toContain('--liftoff-only');
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))![1]!;
    expect(JSON.parse(entry)).toEqual(['node', ...flags, 'dist/cli.js']);
  });
});
