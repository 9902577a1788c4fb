#!/usr/bin/env bash
# scripts/lib/pg-ctl.sh start|stop|restart
#
# Starts, stops (-m fast) or restarts (-m fast) the throwaway PostgreSQL server that
# scripts/lib/pg.sh started; waits until done. The integration tests run it through
# $CONNPOOL_PG_CTL. Needs CONNPOOL_PG_DIR, CONNPOOL_PG_DATA and CONNPOOL_PG_BIN (exported by
# pg_start).
set -euo pipefail
# shellcheck source=scripts/lib/pg.sh
source "$(dirname "${BASH_SOURCE[0]}")/pg.sh"
if [[ -z ${CONNPOOL_PG_DATA:-} || -z ${CONNPOOL_PG_DIR:-} || -z ${CONNPOOL_PG_BIN:-} ]]; then
    echo "pg-ctl.sh: CONNPOOL_PG_DIR, CONNPOOL_PG_DATA, CONNPOOL_PG_BIN not set (see scripts/lib/pg.sh)" >&2
    exit 2
fi
pg_server_ctl "${1:?usage: pg-ctl.sh start|stop|restart}"
