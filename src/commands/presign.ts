// `s3gate presign`: not built yet.
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('s3gate presign: not implemented yet\n');
  return 2;
}
