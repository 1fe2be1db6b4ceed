// undici's Agent and header parser, loaded alone. s3gate uses undici for Agent's dispatch() and
// close() and util.parseHeaders, in forward.ts. The package's index also builds fetch, WebSocket,
// EventSource, the mock agents, the cache stores and the interceptors, puts request()/stream()/
// pipeline() on every dispatcher, and makes a global Agent: importing it took a fresh node from
// 43 to 70 MiB RSS, the Agent's own file to 57 (docs/performance.md, "idle"). undici 7 publishes
// no exports map, so its files are reachable by path; a release that adds one fails here at
// start, and test/commands/lazy-modules.test.ts says so first.
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher, util as UndiciUtil } from 'undici';

export type { Dispatcher };
export type Agent = UndiciAgent;
const require = createRequire(import.meta.url);
export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
// What undici's index exports as util: two functions of lib/core/util.js, which Agent loads anyway.
const core = require('undici/lib/core/util.js') as typeof UndiciUtil;
export const util: Pick<typeof UndiciUtil, 'parseHeaders' | 'headerNameToString'> = { parseHeaders: core.parseHeaders, headerNameToString: core.headerNameToString };
// undici's case-blind lookup of a header name's Buffer (lib/core/tree.js, which util.js loads), for
// a table of s3gate's own (header-name.ts), and the names undici's own table holds.
interface NameTree<V> { insert(key: string, value: V): void; lookup(key: Uint8Array): V | null }
export const TernarySearchTree = (require('undici/lib/core/tree.js') as { TernarySearchTree: new <V>() => NameTree<V> }).TernarySearchTree;
export const wellknownHeaderNames = (require('undici/lib/core/constants.js') as { wellknownHeaderNames: readonly string[] }).wellknownHeaderNames;
