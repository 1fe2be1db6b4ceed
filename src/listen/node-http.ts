// node:http's createServer, taken without an ES import of node:http. On Node 22 node:http has
// lazy getters for WebSocket, CloseEvent and MessageEvent, and an ES import reads every export
// to build its namespace: that loads Node's own bundled undici (with perf_hooks, worker_threads,
// zlib and http2) into every gateway, about 5 MiB RSS that serving never uses
// (docs/performance.md, "idle"). process.getBuiltinModule (Node ≥ 22.3) returns the CommonJS
// exports as they are.
export const { createServer } = process.getBuiltinModule('node:http');
