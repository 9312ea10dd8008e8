# syntax=docker/dockerfile:1
# tlsentry image: the sensor, reading capture files or capturing live.
#
#   docker build -t tlsentry .
#   docker run --rm tlsentry                                  # reads the bundled pcaps/
#   docker run --rm -v "$PWD/caps:/data:ro" tlsentry read /data
#   docker run -d --name tlsentry --network host --cap-add NET_RAW \
#     -v /var/log/tlsentry:/var/log/tlsentry tlsentry \
#     live -i eth1 -o /var/log/tlsentry/events.ndjson --metrics 127.0.0.1:9464
#
# Without a Docker engine, scripts/docker-steps.sh runs the same steps in a temp dir.
# Keep the two in step when this file changes.

# ---- build: compile TypeScript with the dev dependencies -----------------------
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Only tsc runs here: no install scripts, so native addons (the libpcap binding)
# are not built in this stage (the deps stage builds them).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY scripts/build-bundle.mjs scripts/bundle-launcher.cjs ./scripts/
COPY src ./src
# The bundle's training run (which fills its V8 code cache) reads the golden captures.
COPY pcaps ./pcaps
# No test/ or bench/ in the context (.dockerignore), so tsc emits only dist/src/; then
# esbuild's bundle, the shipped CLI, goes to dist/bundle/ (scripts/build-bundle.mjs).
RUN npm run build

# ---- deps: production dependencies only ---------------------------------------
# `npm ci --omit=dev` runs here, on the full image with compilers, rather than in
# the slim one: the libpcap binding (npm package `pcap`, a node-gyp addon) is
# compiled against libpcap-dev. Same Node major and glibc as the runtime image,
# so the addon's ABI matches; the runtime needs only libpcap0.8.
FROM node:20-bookworm AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
RUN node -e "require('pcap/build/Release/pcap_binding.node')"

# ---- runtime -------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
# Live capture as a non-root user: a copy of the node binary with CAP_NET_RAW as
# a file capability runs the sensor; the plain `node` keeps none. CAP_NET_RAW is
# all libpcap needs (promiscuous mode included) and is in Docker's default
# capability set; a file capability outside the container's bounding set makes
# exec fail (EPERM), so this image must not be run with --cap-drop NET_RAW
# (--cap-drop ALL --cap-add NET_RAW is fine). Binaries with file capabilities
# run in secure-execution mode: Node ignores NODE_OPTIONS and NODE_EXTRA_CA_CERTS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 libcap2-bin \
 && cp "$(readlink -f "$(command -v node)")" /usr/local/bin/node-capture \
 && setcap cap_net_raw+eip /usr/local/bin/node-capture \
 && getcap /usr/local/bin/node-capture | grep -q cap_net_raw \
 && apt-get purge -y libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system tlsentry \
 && useradd --system --gid tlsentry --home-dir /app --no-create-home --shell /usr/sbin/nologin tlsentry \
 && install -d -o tlsentry -g tlsentry -m 0750 /var/log/tlsentry
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# The bundle and its code cache (made by the build stage's node:20, used if this Node is the same).
COPY --from=build /app/dist/bundle ./dist/bundle
COPY pcaps ./pcaps
USER tlsentry
ENTRYPOINT ["/usr/local/bin/node-capture", "dist/bundle/cli/main.cjs"]
CMD ["read", "pcaps"]
