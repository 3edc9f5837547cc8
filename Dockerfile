FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY demo ./demo
RUN npm run build && npm prune --omit=dev && mkdir -p /data/uploads && chown node:node /data/uploads
ENV NODE_ENV=production PORT=1080 UPLOAD_DIR=/data/uploads
EXPOSE 1080
USER node
CMD ["node", "dist/main.js"]
