import type { ShenmaConfig } from '../../config/schema.js';
import { SERVER_NODE_FLAGS } from '../../server/node-flags.js';
import { SHENMA_PORT } from '../topology.js';

/**
 * Shenma's image: built from the package source in a full Node image, run from a slim one as
 * the unprivileged `node` user, with a healthcheck on /healthz. Paths are relative to the build
 * context (the package root).
 */
export function renderDockerfile(config: ShenmaConfig): string {
  const node = config.deploy.images.node;
  return `# syntax=docker/dockerfile:1
# Rendered by \`shenma render\`. Build context: the Shenma package root.

FROM ${node} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
COPY assets ./assets
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM ${node}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /src/package.json ./package.json
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
COPY --from=build --chown=root:root /src/bin ./bin
COPY --from=build --chown=root:root /src/assets ./assets
RUN mkdir -p /var/lib/shenma /etc/shenma && chown node:node /var/lib/shenma
USER node
EXPOSE ${SHENMA_PORT}
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=6 \\
  CMD ["node", "-e", "fetch('http://127.0.0.1:${SHENMA_PORT}/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT [${['node', ...SERVER_NODE_FLAGS, '/app/bin/shenma.js'].map((a) => JSON.stringify(a)).join(', ')}]
CMD ["start", "--config", "/etc/shenma/shenma.yaml", "--data-dir", "/var/lib/shenma", "--host", "0.0.0.0"]
`;
}
