# shellcheck shell=bash
# A throwaway PostgreSQL 15 server and a PgBouncer in front of it, for connpool's integration
# tests (scripts/test.sh, stage postgres) and the PostgreSQL benchmark (scripts/bench-postgres.sh).
#
#   source scripts/lib/pg.sh
#   pg_start                 # initdb + pg_ctl start + pgbouncer; exports the variables below
#   trap pg_stop EXIT        # always stop both (pg_stop is idempotent)
#   ...
#   pg_stop                  # stops both servers and removes the temporary directory
#
# Everything lives in one temporary directory (mktemp -d) owned by the `postgres` system user:
# PostgreSQL and PgBouncer refuse to run as root, so when we are root they run through
# `runuser -u postgres`; when we are not root they run as ourselves. The server listens on
# 127.0.0.1 on a free port and on a Unix socket in that directory. Settings: max_connections 20,
# fsync off (a throwaway cluster), scram-sha-256 password authentication on TCP (so a wrong
# password really fails), trust on the Unix socket for the superuser `postgres`.
# PgBouncer: transaction pooling, default_pool_size 4, the same role and password.
#
# Exported by pg_start:
#   CONNPOOL_PG_CONNINFO          the test role over TCP:   host=127.0.0.1 port=P dbname=connpool user=connpool password=...
#   CONNPOOL_PGBOUNCER_CONNINFO   the same through PgBouncer (transaction pool mode)
#   CONNPOOL_PG_ADMIN_CONNINFO    the superuser over the Unix socket (pg_stat_activity, pg_terminate_backend)
#   CONNPOOL_PG_SERVER_CONNINFO   host, port and password only: add dbname=connpool|connpool_b and
#                                 user=connpool|connpool_b (two roles, two databases)
#   CONNPOOL_PG_CTL               a command: "$CONNPOOL_PG_CTL restart|stop|start" (scripts/lib/pg-ctl.sh)
#   CONNPOOL_PG_DIR, CONNPOOL_PG_DATA, CONNPOOL_PG_BIN, CONNPOOL_PG_PORT, CONNPOOL_PGBOUNCER_PORT
#
# Environment read: PG_BIN (default /usr/lib/postgresql/15/bin), PGBOUNCER (default
# /usr/sbin/pgbouncer), PG_MAX_CONNECTIONS (default 20), PGBOUNCER_POOL_SIZE (default 4).

connpool_pg_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# pg_as_owner <cmd...>: runs a command as the owner of the cluster.
pg_as_owner() {
    if ((EUID == 0)); then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# pg_free_port: prints a TCP port nobody listens on (random, checked with ss).
pg_free_port() {
    local port i
    for ((i = 0; i < 200; ++i)); do
        port=$((20000 + RANDOM % 30000))
        if ! ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
            echo "$port"
            return 0
        fi
    done
    echo "pg.sh: no free port found" >&2
    return 1
}

# pg_server_ctl start|stop|restart: the PostgreSQL server of the running cluster (waits until done).
pg_server_ctl() {
    local action=$1
    local -a args=(-D "$CONNPOOL_PG_DATA" -w -t 60)
    case $action in
    start) args+=(-l "$CONNPOOL_PG_DIR/postgres.log" start) ;;
    stop) args+=(-m fast stop) ;;
    restart) args+=(-m fast -l "$CONNPOOL_PG_DIR/postgres.log" restart) ;;
    *)
        echo "pg.sh: pg_server_ctl start|stop|restart, not '$action'" >&2
        return 2
        ;;
    esac
    pg_as_owner "$CONNPOOL_PG_BIN/pg_ctl" "${args[@]}" >/dev/null
}

pg_start() {
    local bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
    local bouncer=${PGBOUNCER:-/usr/sbin/pgbouncer}
    local max_conn=${PG_MAX_CONNECTIONS:-20}
    local pool_size=${PGBOUNCER_POOL_SIZE:-4}
    local f
    for f in "$bin/initdb" "$bin/pg_ctl" "$bin/psql" "$bouncer"; do
        if [[ ! -x $f ]]; then
            echo "pg.sh: $f not found (apt-get install postgresql-15 pgbouncer)" >&2
            return 1
        fi
    done

    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/connpool-pg.XXXXXX")
    chmod 755 "$dir"
    if ((EUID == 0)); then
        chown postgres:postgres "$dir"
    fi
    export CONNPOOL_PG_DIR=$dir
    export CONNPOOL_PG_DATA=$dir/data
    export CONNPOOL_PG_BIN=$bin

    local password=connpool-secret
    local port bport
    port=$(pg_free_port)
    bport=$(pg_free_port)
    while [[ $bport == "$port" ]]; do bport=$(pg_free_port); done
    export CONNPOOL_PG_PORT=$port
    export CONNPOOL_PGBOUNCER_PORT=$bport

    echo "pg.sh: initdb in $dir"
    pg_as_owner "$bin/initdb" -D "$CONNPOOL_PG_DATA" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        return 1
    }
    pg_as_owner tee -a "$CONNPOOL_PG_DATA/postgresql.conf" >/dev/null <<EOF
# connpool integration tests: a throwaway cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = $max_conn
superuser_reserved_connections = 3
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
password_encryption = 'scram-sha-256'
log_min_messages = warning
log_connections = off
EOF
    echo "pg.sh: starting PostgreSQL on 127.0.0.1:$port (socket in $dir)"
    pg_server_ctl start || {
        cat "$dir/postgres.log" >&2
        return 1
    }
    pg_as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres \
        -d postgres >/dev/null <<EOF
CREATE ROLE connpool LOGIN PASSWORD '$password';
CREATE DATABASE connpool OWNER connpool;
CREATE ROLE connpool_b LOGIN PASSWORD '$password';
CREATE DATABASE connpool_b OWNER connpool_b;
EOF

    # PgBouncer: transaction pooling; it logs in to the server with the plaintext password of
    # its auth_file and checks clients with scram-sha-256 against it.
    pg_as_owner tee "$dir/userlist.txt" >/dev/null <<EOF
"connpool" "$password"
EOF
    pg_as_owner tee "$dir/pgbouncer.ini" >/dev/null <<EOF
[databases]
connpool = host=127.0.0.1 port=$port dbname=connpool

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir = $dir
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = $pool_size
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
    echo "pg.sh: starting PgBouncer on 127.0.0.1:$bport (transaction mode, pool size $pool_size)"
    pg_as_owner "$bouncer" -d -q "$dir/pgbouncer.ini" || {
        cat "$dir/pgbouncer.log" >&2 2>/dev/null || true
        return 1
    }
    local i
    for ((i = 0; i < 100; ++i)); do
        if ss -Htln "sport = :$bport" 2>/dev/null | grep -q .; then
            break
        fi
        sleep 0.05
    done

    export CONNPOOL_PG_CONNINFO="host=127.0.0.1 port=$port dbname=connpool user=connpool password=$password"
    export CONNPOOL_PGBOUNCER_CONNINFO="host=127.0.0.1 port=$bport dbname=connpool user=connpool password=$password"
    export CONNPOOL_PG_ADMIN_CONNINFO="host=$dir port=$port dbname=postgres user=postgres"
    # A second role and database (several pools of one process, one per configuration): append
    # "dbname=... user=..." to it; both roles may connect to both databases.
    export CONNPOOL_PG_SERVER_CONNINFO="host=127.0.0.1 port=$port password=$password"
    export CONNPOOL_PG_CTL="$connpool_pg_lib_dir/pg-ctl.sh"
}

# pg_stop: stops PgBouncer and PostgreSQL and removes the directory. Safe to call twice, and
# after a pg_start that failed half-way.
pg_stop() {
    local dir=${CONNPOOL_PG_DIR:-}
    if [[ -z $dir || ! -d $dir ]]; then
        return 0
    fi
    if [[ -f $dir/pgbouncer.pid ]]; then
        local pid
        pid=$(cat "$dir/pgbouncer.pid" 2>/dev/null || true)
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            local i
            for ((i = 0; i < 50; ++i)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.05
            done
        fi
    fi
    if [[ -f $CONNPOOL_PG_DATA/postmaster.pid ]]; then
        pg_as_owner "$CONNPOOL_PG_BIN/pg_ctl" -D "$CONNPOOL_PG_DATA" -w -t 30 -m immediate stop \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    unset CONNPOOL_PG_DIR
    echo "pg.sh: servers stopped"
}
