# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript once, ship production dependencies and dist/ on Node 24 slim,
# run as a non-root user. State lives in Vault, so the root filesystem can be read-only.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY policies ./policies
USER node
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["--help"]
