#!/bin/sh
# The image's entrypoint: `serve` (the default command) upgrades the database first, then
# serves; any other cgd-bridge command (`admin ...`, `db current`, `demo`) runs as it is.
set -eu
if [ "$#" -eq 0 ]; then
    set -- serve --host 0.0.0.0 --port 8000
fi
if [ "$1" = "serve" ]; then
    cgd-bridge db upgrade
fi
exec cgd-bridge "$@"
