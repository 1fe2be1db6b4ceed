// npm run bench ends with bench/micro.mjs, which calls into dist/ by name: a renamed or removed
// export there failed the bench only after ten minutes of measuring (responseHeaders, session 10).
// Every case is run here a few times, on the build npm test makes first.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the bench, without types
import { runMicro } from '../../bench/micro.mjs';

describe('bench/micro.mjs', () => {
  it('runs every case against the current build', async () => {
    const lines: string[] = [];
    const out = (await runMicro((l: string) => lines.push(l), { batch: 20, reps: 1 })) as { name: string; us: number }[];
    expect(out.length).toBeGreaterThanOrEqual(8);
    for (const r of out) expect(Number.isFinite(r.us) && r.us > 0, r.name).toBe(true);
    expect(lines.filter((l) => l.startsWith('| ') && !l.startsWith('| operation') && !l.startsWith('| ---'))).toHaveLength(out.length);
  });
});
