#!/usr/bin/env bash
# Baseline for benchmark 1: what a careful hand-written script (or Makefile
# target) does instead of `make bootstrap-dev`. Same images, same work:
# PostgreSQL+pgvector and Redis on 127.0.0.1 ports with named volumes, a
# tight poll until SELECT 1 / PING answer, the reference migrations through
# psql. No idempotence, no ownership checks, no manifest.
#
# Env: BASELINE_NAME (suffix), BASELINE_PG_PORT, BASELINE_REDIS_PORT,
#      BASELINE_PSQL=host|exec (host: /usr/bin/psql on the published port;
#      exec: psql inside the container via podman exec, for machines
#      without a client), POSTGRES_IMAGE, REDIS_IMAGE, MIGRATIONS_DIR.
set -euo pipefail

name=${BASELINE_NAME:?}
pg=baseline-postgres-$name
rd=baseline-redis-$name
pg_port=${BASELINE_PG_PORT:?}
rd_port=${BASELINE_REDIS_PORT:?}
mode=${BASELINE_PSQL:-host}
migrations=${MIGRATIONS_DIR:?}
export PGPASSWORD=slm_password_dev

podman run -d --name "$pg" -p "127.0.0.1:$pg_port:5432" \
  -e POSTGRES_USER=slm_user -e POSTGRES_PASSWORD="$PGPASSWORD" -e POSTGRES_DB=action_history \
  -v "$pg-data:/var/lib/postgresql/data" "${POSTGRES_IMAGE:?}" >/dev/null
podman run -d --name "$rd" -p "127.0.0.1:$rd_port:6379" -v "$rd-data:/data" "${REDIS_IMAGE:?}" \
  redis-server --port 6379 --protected-mode no --save '' --appendonly no >/dev/null

psql_() {
  if [ "$mode" = exec ]; then
    # Over TCP inside the container: the image's init-time server listens on
    # the unix socket only, so this cannot succeed before the real server runs.
    podman exec -i -e PGPASSWORD "$pg" psql -h 127.0.0.1 -U slm_user -d action_history -X -q "$@"
  else
    psql -h 127.0.0.1 -p "$pg_port" -U slm_user -d action_history -X -q "$@"
  fi
}

redis_ping() {
  if [ "$mode" = exec ]; then
    [ "$(podman exec "$rd" redis-cli ping 2>/dev/null)" = PONG ]
  else
    # No redis-cli on the host: speak RESP over bash's /dev/tcp.
    local reply
    exec 3<>"/dev/tcp/127.0.0.1/$rd_port" || return 1
    printf 'PING\r\n' >&3
    read -r -t 2 reply <&3 || reply=
    exec 3<&- 3>&-
    [ "${reply%$'\r'}" = +PONG ]
  fi
}

deadline=$((SECONDS + 120))
until psql_ -tAc 'SELECT 1' >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || { echo "postgres not ready" >&2; exit 1; }
  sleep 0.1
done
until redis_ping 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || { echo "redis not ready" >&2; exit 1; }
  sleep 0.1
done

for f in "$migrations"/*.sql; do
  psql_ -v ON_ERROR_STOP=1 -1 <"$f" >/dev/null
done
