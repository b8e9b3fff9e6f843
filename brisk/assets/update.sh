#!/usr/bin/env bash
# Refreshes the Swagger UI and ReDoc assets that brisk compiles into the
# binary (served by /docs and /redoc with no network access at build or run
# time). No Rust crate embeds ReDoc for offline use, and Swagger UI's
# embedding crates pull in another OpenAPI framework, so the files come
# straight from the npm registry's published packages, pinned here.
set -euo pipefail
SWAGGER_UI_VERSION=5.35.0
REDOC_VERSION=2.5.4
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack "swagger-ui-dist@$SWAGGER_UI_VERSION" "redoc@$REDOC_VERSION" >/dev/null
mkdir swagger redoc
tar xzf "swagger-ui-dist-$SWAGGER_UI_VERSION.tgz" -C swagger --strip-components=1
tar xzf "redoc-$REDOC_VERSION.tgz" -C redoc --strip-components=1
cp swagger/swagger-ui-bundle.js swagger/swagger-ui.css swagger/LICENSE "$here/swagger-ui/"
cp redoc/bundles/redoc.standalone.js redoc/bundles/redoc.standalone.js.LICENSE.txt redoc/LICENSE "$here/redoc/"
echo "swagger-ui-dist $SWAGGER_UI_VERSION, redoc $REDOC_VERSION" > "$here/VERSIONS"
