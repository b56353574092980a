# acme-pca-gateway container image. The build and start steps are the very commands CI runs
# (test/e2e/container.test.ts reads this file: the build stage's `npm ci` and `npm run build`, and it
# starts the CMD below as written, with a configuration like config/docker.yaml, and runs the
# HEALTHCHECK against it).
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 is built from source by npm ci.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
COPY config ./config
# State (database, admin token, EAB key-encryption key, simulator CA) lives in the /data volume,
# owned by the unprivileged user the gateway runs as.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# 14000: ACME (https). 14002: the admin listener (/livez, /readyz; /metrics, console, /api with the token).
EXPOSE 14000 14002
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:14002/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Configuration: config/docker.yaml (mount your own over it) and the environment. A young generation
# twice Node's default: less CPU per order under load (README, Operations: Node's young generation).
CMD ["node", "--max-semi-space-size=32", "dist/src/main.js", "serve", "--config", "config/docker.yaml"]
