# Production image: gunicorn for the web, the same image runs the Celery worker and beat.

# Browser libraries the portal serves itself (package.json "dependencies", as `make vendor-js` does).
FROM node:22-bookworm-slim AS vendor
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 portal
# DejaVu: attendance certificates show names in any script (portal/registration/certificate.py).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app

COPY pyproject.toml README.md gunicorn.conf.py ./
COPY portal ./portal
COPY worker ./worker
COPY templates ./templates
COPY migrations ./migrations
COPY --from=vendor /build/node_modules/@zxing/library/umd/index.min.js ./portal/static/vendor/zxing-library.min.js
COPY --from=vendor /build/node_modules/@zxing/library/LICENSE ./portal/static/vendor/zxing-library.LICENSE.txt
# Editable, so the app finds templates/ and migrations/ beside the package as in development.
RUN pip install --no-cache-dir -e .
# md5-named, gzipped static files and their manifest, served with far-future caching.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" flask --app portal digest compile
RUN mkdir -p /app/instance && chown portal:portal /app/instance
USER portal

ENV PORTAL_INSTANCE_PATH=/app/instance
EXPOSE 8000
# gunicorn.conf.py: the app loads in the master (a missing SECRET_KEY stops it with the reason),
# and tokens are cut out of the access log.
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-", "portal:create_app()"]
