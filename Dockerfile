# The txlog API and worker (one image, two commands; see docker-compose.yml).
FROM oven/bun:1.4.5
WORKDIR /app
# patches/: fixes applied to dependencies at install (see package.json patchedDependencies).
COPY package.json bun.lock ./
COPY patches ./patches
RUN bun install --frozen-lockfile --production
COPY tsconfig.json bunfig.toml ./
COPY src ./src
COPY sql ./sql
COPY data ./data
USER bun
CMD ["bun", "run", "src/api.ts"]
