#!/bin/sh
# Refresh the studio's JavaScript from the npm registry (never a CDN):
#   scripts/vendor-studio.sh [EASYMDE_VERSION] [HTMX_VERSION]
# Writes pipeline/web/static/vendor/easymde/ (the Markdown editor, CodeMirror 5 bundled in,
# and its stylesheet) and pipeline/web/static/vendor/htmx/ (htmx), each with its licence and
# a VERSION file naming the tarball it came from. Commit the result.
set -eu
EASYMDE="${1:-2.21.0}"
HTMX="${2:-2.0.11}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
VENDOR="$HERE/pipeline/web/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

mkdir easymde && (cd easymde && npm pack "easymde@$EASYMDE" --silent >/dev/null && tar xzf ./*.tgz)
mkdir -p "$VENDOR/easymde"
cp easymde/package/dist/easymde.min.js easymde/package/dist/easymde.min.css "$VENDOR/easymde/"
cp easymde/package/LICENSE "$VENDOR/easymde/LICENSE.txt"
echo "easymde $EASYMDE from the npm registry (package easymde@$EASYMDE)" > "$VENDOR/easymde/VERSION"

mkdir htmx && (cd htmx && npm pack "htmx.org@$HTMX" --silent >/dev/null && tar xzf ./*.tgz)
mkdir -p "$VENDOR/htmx"
cp htmx/package/dist/htmx.min.js "$VENDOR/htmx/"
cp htmx/package/LICENSE "$VENDOR/htmx/LICENSE.txt"
echo "htmx.org $HTMX from the npm registry (package htmx.org@$HTMX)" > "$VENDOR/htmx/VERSION"
echo "vendored easymde $EASYMDE and htmx.org $HTMX into $VENDOR"
