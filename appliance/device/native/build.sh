#!/bin/sh
# Builds the fdwatch addon against the headers of the node that runs it (no download), with
# the node-gyp that npm bundles. Skipped when the addon is newer than its source.
set -e
cd "$(dirname "$0")/../../.."
out=build/Release/fdwatch.node
src=appliance/device/native/fdwatch.c
[ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt binding.gyp ] && exit 0
prefix=$(node -p "require('path').resolve(process.execPath, '..', '..')")
if [ ! -f "$prefix/include/node/node_api.h" ]; then
  echo "fdwatch: no node headers under $prefix/include/node; the appliance will use the slower poll thread" >&2
  exit 0
fi
gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
node "$gyp" rebuild --nodedir="$prefix" --loglevel=warn
