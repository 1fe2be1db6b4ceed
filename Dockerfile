# syntax=docker/dockerfile:1
# Build stage: compile TypeScript, then keep only production dependencies.
FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc runs on the image's Node: with --ignore-scripts the `node` devDependency (Node 22.12, the
# floor `npm test` runs on) installs no binary, and the image needs none.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund

# Runtime stage: Node 26, the active LTS, no build tools, a non-root user.
FROM node:26-bookworm-slim
# One malloc arena: V8's compiler and GC threads otherwise each keep an arena of their own, and
# what they free stays in it (docs/operations.md#memory: up to 20 MiB of peak RSS, no CPU cost
# measured).
# One worker per CPU the container may use (proxy.yaml's `workers: ${S3GATE_WORKERS:-1}`).
ENV NODE_ENV=production \
    S3GATE_LISTEN=0.0.0.0:8080 \
    S3GATE_WORKERS=auto \
    MALLOC_ARENA_MAX=1
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json proxy.yaml ./
COPY config ./config
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
# Any HTTP answer means the process serves; s3gate answers unauthenticated requests with S3 XML.
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.S3GATE_LISTEN||'').split(':').pop()+'/').then(r=>process.exit(r.status<500?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# The node flags of `npm start` (test/commands/deploy.test.ts keeps the two in step):
# baseline-compiled WebAssembly for undici's HTTP parser, whose optimising recompile holds
# 30–35 MiB for a moment (src/listen/memory.ts); Node 24 and later take the flag only from the
# command line.
ENTRYPOINT ["node", "--liftoff-only", "dist/cli.js"]
CMD ["--config", "/app/proxy.yaml"]
