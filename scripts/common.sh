# Shared helpers for scripts/setup, scripts/test and scripts/demo.
# Sourced, not executed.  Everything here is idempotent.

ENGRAM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_MAJOR="${PG_MAJOR:-15}"
# PG_BINDIR may point at a relocated copy of the installation (parallel work
# on one machine without reinstalling into the shared server directories)
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/$PG_MAJOR/bin}"
# PostgreSQL refuses to run as root: servers and TAP tests run as this user
ENGRAM_TEST_USER="${ENGRAM_TEST_USER:-engram}"

DEB_PACKAGES=(
	"postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
	postgresql-contrib liburing-dev libipc-run-perl build-essential
	gcc make perl
	# t/021_metrics_exporter.pl scrapes engram's metrics through it
	prometheus-postgres-exporter
)

log() { printf '==> %s\n' "$*" >&2; }

# Install the Debian packages engram needs, if any is missing.
ensure_packages() {
	local missing=()
	for p in "${DEB_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root to install them)" >&2
		return 1
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Build with -Werror and install into the server's directories.
build_and_install() {
	log "building engram"
	make -C "$ENGRAM_ROOT" -s WERROR=1 PG_CONFIG="$PG_BINDIR/pg_config" all >&2
	log "installing engram"
	make -C "$ENGRAM_ROOT" -s PG_CONFIG="$PG_BINDIR/pg_config" install >&2
}

ensure_test_user() {
	id -u "$ENGRAM_TEST_USER" >/dev/null 2>&1 ||
		useradd --create-home --shell /bin/bash "$ENGRAM_TEST_USER"
}

# Run a command as the unprivileged user (or as ourselves when not root).
as_test_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$ENGRAM_TEST_USER" -- env PATH="$PG_BINDIR:$PATH" "$@"
	else
		env PATH="$PG_BINDIR:$PATH" "$@"
	fi
}

# Start (or reuse) a throwaway cluster in $1 listening on port $2, socket in $1.
# engram is preloaded (its statistics live in shared memory), so it must be
# installed first.
start_cluster() {
	local datadir="$1" port="$2"
	if [ ! -f "$datadir/PG_VERSION" ]; then
		log "initdb $datadir"
		as_test_user initdb -D "$datadir" -U postgres --auth=trust --no-sync >/dev/null
		cat >>"$datadir/postgresql.conf" <<-CONF
			listen_addresses = ''
			unix_socket_directories = '$datadir'
			port = $port
			fsync = off
			shared_buffers = 256MB
			maintenance_work_mem = 512MB
			shared_preload_libraries = 'engram'
		CONF
	fi
	if ! as_test_user pg_ctl -D "$datadir" status >/dev/null 2>&1; then
		log "starting server on port $port"
		as_test_user pg_ctl -D "$datadir" -l "$datadir/server.log" -w start >/dev/null
	fi
}

stop_cluster() {
	as_test_user pg_ctl -D "$1" -m fast -w stop >/dev/null 2>&1 || true
}
