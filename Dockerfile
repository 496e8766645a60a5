# The txlog API and worker (one image, two commands; see docker-compose.yml).
FROM oven/bun:1.4.5
WORKDIR /app
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production
COPY tsconfig.json bunfig.toml ./
COPY src ./src
COPY sql ./sql
COPY data ./data
USER bun
CMD ["bun", "run", "src/api.ts"]
