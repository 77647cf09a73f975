#!/usr/bin/env bash
# The walvault demo: a scoreboard app loses every table to a "reset" helper, and walvault brings it back to the
# instant before the wipe. It installs what it needs, builds, runs a throwaway PostgreSQL 15 on loopback, and
# removes everything it created when it ends. Run it as root (it uses the postgres OS user) or as a normal user.
#
#   bash demo.sh
#
# Set WALVAULT_BIN to use an existing walvault binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }

if [[ $(id -u) -eq 0 ]]; then
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

work=$(mktemp -d /tmp/walvault-demo.XXXXXX)
chmod 755 "$work"
[[ $(id -u) -eq 0 ]] && chown postgres: "$work"
pids=()
cleanup() {
  set +e
  # The streamer by its own pid (from its lock file): as root, the pid in pids is runuser's, which does not pass
  # SIGTERM on to walvault.
  [[ -f $work/repo/locks/stream.lock ]] && kill "$(cat "$work/repo/locks/stream.lock")" 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  for d in "$work"/prod "$work"/restored; do
    [[ -f $d/postmaster.pid ]] && as_pg "$bindir/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

say "1. Install dependencies and build walvault"
if [[ -z ${WALVAULT_BIN:-} ]]; then
  bash .ci/install-deps.sh
  # In the work directory, which the postgres user can reach (the server runs restore_command as that user) and
  # which the cleanup removes. The build type and -Werror are CI's, so a warning fails the demo instead of
  # scrolling past.
  build_dir=$work/build
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWALVAULT_WERROR=ON -DWALVAULT_TESTS=OFF >/dev/null
  cmake --build "$build_dir" -j"$(nproc)" --target walvault >/dev/null
  WALVAULT_BIN=$build_dir/walvault
fi
note "walvault: $("$WALVAULT_BIN" --version)"
bindir=/usr/lib/postgresql/15/bin
wv() { as_pg "$WALVAULT_BIN" "$@"; }
free_port() {
  local p
  for p in $(shuf -i 20000-60000 -n 50); do
    (echo >/dev/tcp/127.0.0.1/"$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo "no free port" >&2; return 1
}

say "2. Start a throwaway PostgreSQL 15 (the 'production' server)"
port=$(free_port)
as_pg "$bindir/initdb" -D "$work/prod" -U postgres --auth=trust --no-sync >/dev/null
cat >>"$work/prod/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work'
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
CONF
printf 'host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n' >>"$work/prod/pg_hba.conf"
as_pg "$bindir/pg_ctl" -D "$work/prod" -l "$work/prod.log" -w start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres
psql() { command "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
note "PostgreSQL $(psql -Atc 'show server_version') on 127.0.0.1:$port"

schema="
CREATE TABLE games   (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE players (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE scores  (id bigserial PRIMARY KEY, game_id int REFERENCES games, player_id int REFERENCES players,
                      points int NOT NULL, app_seq bigint NOT NULL UNIQUE, created_at timestamptz DEFAULT now());"
psql -c "$schema"
seed="INSERT INTO games (name) SELECT 'game ' || g FROM generate_series(1, 20) g;
      INSERT INTO players (name) SELECT 'player ' || p FROM generate_series(1, 500) p;"
psql -c "$seed"

say "3. walvault: init the repository, start streaming, take a base backup"
repo=$work/repo
wv init --repo "$repo" -d "host=127.0.0.1 port=$port user=postgres"
as_pg "$WALVAULT_BIN" stream --repo "$repo" >"$work/stream.log" 2>&1 &
pids+=($!)
sleep 1
wv backup --repo "$repo" --fast

say "4. The app writes scores continuously"
# Each score carries the app's own sequence number; the app logs a number only after its commit succeeded.
app() {
  local seq=0
  while [[ ! -f $work/stop-app ]]; do
    seq=$((seq + 1))
    if psql -c "INSERT INTO scores (game_id, player_id, points, app_seq)
                VALUES (1 + $seq % 20, 1 + $seq % 500, ($seq * 7919) % 10000, $seq)" 2>/dev/null; then
      echo "$seq $(date +%s%N)" >>"$work/app.log"
    fi
  done
}
app &
pids+=($!)
sleep 6
note "$(wc -l <"$work/app.log") scores written so far, and counting"

say "5. The wipe: a 'reset database' helper pointed at production drops every table"
wipe_ns=$(date +%s%N)
psql -c "DROP TABLE scores, players, games;"
wiped_ns=$(date +%s%N)
note "dropped scores, players, games. The helper then recreates and reseeds them, and the app keeps writing."
psql -c "$schema" -c "$seed"
sleep 3
touch "$work/stop-app"
wait "${pids[1]}" 2>/dev/null || true
note "$(psql -Atc 'SELECT count(*) FROM scores') scores in production now, all written after the wipe. Everything before it is gone."

say "6. Find the wipe: walvault events"
sleep 1
wv events --repo "$repo"
event_id=$(wv events --repo "$repo" --kind drop_table --json | grep -o '"id": *"[^"]*"' | tail -1 | sed 's/.*"\([^"]*\)"$/\1/')
note "the wipe is event $event_id"

say "7. Restore to just before it, and start PostgreSQL on the copy"
rport=$(free_port)
start_ns=$(date +%s%N)
wv restore --repo "$repo" --target-dir "$work/restored" --before-event "$event_id" --start --port "$rport"
rto_ms=$((($(date +%s%N) - start_ns) / 1000000))

say "8. Every score written before the wipe is back"
restored=$(PGPORT=$rport psql -Atc "SELECT app_seq FROM scores ORDER BY app_seq")
before=$(awk -v w="$wipe_ns" '$2 < w {print $1}' "$work/app.log")
after=$(awk -v w="$wiped_ns" '$2 > w {print $1}' "$work/app.log")
lost=$(comm -23 <(sort <<<"$before") <(sort <<<"$restored") | grep -c . || true)
leaked=$(comm -12 <(sort <<<"$after") <(sort <<<"$restored") | grep -c . || true)
came_back=$(PGPORT=$rport psql -Atc "SELECT count(*) FROM scores")
note "scores the app saw committed before the reset began: $(grep -c . <<<"$before")"
note "scores in the restored database:    $came_back (also those committed while the DROP waited for its lock)"
note "rows lost:                          $lost"
note "rows from after the wipe restored:  $leaked (they belong to the new, empty tables)"
note "restore time (RTO), extract+replay: $((rto_ms / 1000)).$(printf '%03d' $((rto_ms % 1000))) s"
PGPORT=$rport psql -c "SELECT p.name AS player, sum(s.points) AS total FROM scores s JOIN players p ON p.id = s.player_id
                        GROUP BY p.name ORDER BY total DESC LIMIT 5"
if [[ $lost -ne 0 || $leaked -ne 0 ]]; then
  echo "demo failed: $lost scores were not restored, $leaked came back from after the wipe" >&2
  exit 1
fi
say "Done. walvault brought the scoreboard back to the instant before the wipe. Cleaning up."
