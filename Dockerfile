# syntax=docker/dockerfile:1
# tlsentry image: the sensor reading capture files.
#
#   docker build -t tlsentry .
#   docker run --rm tlsentry                                  # reads the bundled pcaps/
#   docker run --rm -v "$PWD/caps:/data:ro" tlsentry read /data
#
# Without a Docker engine, scripts/docker-steps.sh runs the same steps in a temp dir.
# Keep the two in step when this file changes.

# ---- build: compile TypeScript with the dev dependencies -----------------------
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Only src/ is in the context (.dockerignore), so only dist/src/ is emitted.
RUN npm run build

# ---- deps: production dependencies only ---------------------------------------
# `npm ci --omit=dev` runs here, on the full image with compilers, rather than in
# the slim one: identical result for pure-JS packages, and a native addon (say a
# libpcap binding for live capture) still builds. Same Node major and glibc as
# the runtime image, so the addon's ABI matches.
FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# ---- runtime -------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system tlsentry \
 && useradd --system --gid tlsentry --home-dir /app --no-create-home --shell /usr/sbin/nologin tlsentry
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY pcaps ./pcaps
# Live capture (later): the non-root user needs raw sockets. Grant them to the node
# binary rather than running as root, e.g.
#   RUN apt-get install -y --no-install-recommends libcap2-bin \
#    && setcap cap_net_raw,cap_net_admin+eip "$(readlink -f "$(command -v node)")"
# and run with `docker run --cap-add NET_RAW --cap-add NET_ADMIN --network host`.
# File capabilities on node apply to every script it runs; a dedicated copy of the
# binary for the sensor would narrow that.
USER tlsentry
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["read", "pcaps"]
