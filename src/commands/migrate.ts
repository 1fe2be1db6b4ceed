// `s3gate migrate`: not built yet.
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('s3gate migrate: not implemented yet\n');
  return 2;
}
