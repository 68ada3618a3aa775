#!/usr/bin/env bash
# Baseline for benchmark 1: the hand-written cleanup - remove both containers
# and their named volumes (what `cleanup.yml -e devinfra_purge=true` removes).
set -euo pipefail
name=${BASELINE_NAME:?}
pg=baseline-postgres-$name
rd=baseline-redis-$name
podman rm -f "$pg" "$rd" >/dev/null
podman volume rm "$pg-data" "$rd-data" >/dev/null
