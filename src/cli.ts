#!/usr/bin/env node
// The package's bin. `s3gate [--config FILE]` serves; subcommands are admin tools that share
// the same config loading and its field-named errors.
import { readFileSync } from 'node:fs';
import { ConfigError } from './config/load.js';

type Command = (argv: string[]) => Promise<number>;

// Each subcommand lives in its own module, loaded only when used.
const COMMANDS: Record<string, () => Promise<{ run: Command }>> = {
  serve: () => import('./commands/serve.js'),
  keys: () => import('./commands/keys.js'),
  presign: () => import('./commands/presign.js'),
  check: () => import('./commands/check.js'),
  migrate: () => import('./commands/migrate.js'),
};

const USAGE = `usage:
  s3gate [serve] --config proxy.yaml     run the gateway
         [--listen HOST:PORT ...]        listen here instead of the config's listen (repeatable)
  s3gate keys new                        make a fresh access key and secret
  s3gate presign --config F --key ID GET|PUT s3://bucket/key [--expires 3600]
  s3gate check --config F                validate a config and probe each upstream
  s3gate migrate --config F ...          copy a bucket between upstreams (see --help)
  s3gate --version                       print the version
`;

interface PackageJson {
  version: string;
  engines: { node: string };
}

/** The package.json beside dist/ (or src/). */
function packageJson(): PackageJson {
  return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as PackageJson;
}

/**
 * Why this Node cannot run s3gate, or undefined. `node dist/cli.js` runs on whatever `node` the
 * shell finds, and an older one gets far enough to fail later and obscurely (Node 20 has no
 * reusePort: the second worker dies with EADDRINUSE).
 */
function runtimeProblem(engines: string, current: string, execPath: string): string | undefined {
  const want = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(engines.trim());
  const have = /^v?(\d+)\.(\d+)\.(\d+)/.exec(current);
  if (!want || !have) return undefined;
  for (let i = 1; i <= 3; i++) {
    if (Number(have[i]) > Number(want[i])) return undefined;
    if (Number(have[i]) < Number(want[i])) {
      return `Node.js ${want.slice(1).join('.')} or later is needed; this is ${current} (${execPath}). `
        + 'In a clone, `npm start` and `npx s3gate` run on the project\'s own Node, which `npm ci` installs (README, Quick start).';
    }
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const pkg = packageJson();
  if (first === '--version' || first === '-v' || first === 'version') {
    process.stdout.write(`s3gate ${pkg.version}\n`);
    return 0;
  }
  const problem = runtimeProblem(pkg.engines.node, process.version, process.execPath);
  if (problem) {
    process.stderr.write(`s3gate: ${problem}\n`);
    return 2;
  }
  const name = first && !first.startsWith('-') ? first : 'serve';
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`s3gate: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  const mod = await load();
  return mod.run(name === first ? argv.slice(1) : argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    // A negative code means the command keeps the process alive (the gateway serving).
    if (code >= 0) setImmediate(() => process.exit(code));
  },
  (e: unknown) => {
    process.stderr.write(`s3gate: ${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  },
);
