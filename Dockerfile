# One image for every role; the role is the command's argument (see docker-compose.yml).
# Stage 1 installs the production dependencies only (tsx is one of them: the roles run
# through it); stage 2 is what runs: that node_modules and the sources, no npm, no dev
# tools, owned by root and run as the unprivileged `node` user. The entry point's Node flags
# are src/node-flags.ts's.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
# The package managers the base image ships are build tools; the roles never call them.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY machines ./machines
COPY adapters ./adapters
COPY src ./src
ENV NODE_ENV=production HOST=0.0.0.0
USER node
ENTRYPOINT ["node", "--max-semi-space-size=64", "--import", "tsx", "src/main.ts"]
CMD ["all"]
