// docs/sts.md's configs are real: each YAML block with roles loads (with the rest of a config
// around it), so the page cannot drift from what s3gate accepts.
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { tmpDir } from '../helpers/gateway.js';

const page = readFileSync(join(import.meta.dirname, '../../docs/sts.md'), 'utf8');
const blocks = [...page.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('roles:'));

describe('docs/sts.md', () => {
  it('has config examples, and every one loads', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const dir = tmpDir('s3gate-sts-docs-');
    writeFileSync(join(dir, 'secret'), 'a-sealing-secret-of-at-least-32-bytes-000\n');
    for (const block of blocks) {
      let text = block.replace(/\$\{file:\/run\/secrets\/[^}]+\}/g, '${file:secret}');
      if (!/^keys:/m.test(text)) text += '\nkeys:\n  - { accessKeyId: CI-RUNNER, secretAccessKey: x-secret-0123456789, allow: [] }\n';
      text += '\nupstreams:\n  disk: { provider: local, path: ./data }\nbuckets:\n  "*": { upstream: disk }\n';
      const file = join(dir, 'proxy.yaml');
      writeFileSync(file, text);
      const cfg = loadConfig(file, { env: {} });
      expect(cfg.sts?.roles.size, block).toBeGreaterThan(0);
      expect(cfg.sts?.sealingKeys.length).toBe(1);
    }
  });
});
