# syntax=docker/dockerfile:1
# Multi-stage build of the service: docker build -t call-scheduler .  (docker-compose.yml does this.)

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY src ./src
COPY dashboard ./dashboard
# nest build runs the @nestjs/swagger CLI plugin (nest-cli.json), which completes the OpenAPI schemas.
# Vite is a dev dependency, so the dashboard bundle is built before the prune.
RUN npx nest build && npm run build:dashboard && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
# /app belongs to `node` only so that, without MONGODB_URI, the embedded-database launcher can create
# ./data (and then report what is missing); code and dependencies stay root-owned.
RUN chown node:node /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/dashboard/dist ./dashboard/dist
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# main.js handles SIGTERM itself: readiness turns 503, HTTP work and jobs drain, then it exits.
CMD ["node", "dist/main.js"]
