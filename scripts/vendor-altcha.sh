#!/bin/sh
# Refresh the vendored ALTCHA widget from the npm registry (never a CDN).
#   scripts/vendor-altcha.sh [VERSION]      (default: the version in VERSION below)
# Writes pipeline/web/static/vendor/altcha/: the widget without bundled workers (our own
# pages, strict CSP), the full bundle (the embeddable form on other sites), the PBKDF2 and
# SHA workers, and the licence. Commit the result.
set -eu
VERSION="${1:-3.2.2}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$HERE/pipeline/web/static/vendor/altcha"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack "altcha@$VERSION" --silent >/dev/null
tar xzf "altcha-$VERSION.tgz"
mkdir -p "$DEST/workers"
cp package/dist/external/altcha.umd.min.cjs "$DEST/altcha.external.min.js"
cp package/dist/main/altcha.umd.min.cjs "$DEST/altcha.min.js"
cp package/dist/workers/pbkdf2.js package/dist/workers/sha.js "$DEST/workers/"
cp package/LICENSE.txt "$DEST/LICENSE.txt"
echo "altcha $VERSION from the npm registry ($(npm view "altcha@$VERSION" dist.tarball))" > "$DEST/VERSION"
echo "vendored altcha $VERSION into $DEST"
