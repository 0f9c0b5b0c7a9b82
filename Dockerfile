# One image for every role; the role is the command's argument (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY machines ./machines
COPY adapters ./adapters
COPY src ./src
ENV NODE_ENV=production HOST=0.0.0.0
ENTRYPOINT ["npx", "tsx", "src/main.ts"]
CMD ["all"]
