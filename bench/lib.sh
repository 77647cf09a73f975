# shellcheck shell=bash
# Shared by the bench scripts (source it).

# The settings of a throwaway benchmark cluster, appended to DATADIR/postgresql.conf: loopback on PORT, sockets in
# SOCKDIR, no fsync (the benchmarks measure walvault, not the server's disk), checkpoints every 30 s, room for
# the slots of walvault and its peers.
write_bench_pg_conf() {
  local datadir=$1 port=$2 sockdir=$3
  cat >>"$datadir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
port = $port
fsync = off
synchronous_commit = off
max_wal_size = 4GB
checkpoint_timeout = 30s
autovacuum = off
max_wal_senders = 10
max_replication_slots = 10
CONF
}

# The scripts that run a streamer in the background use their $work and $stream_pid here.
# Stops the streamer: walvault by its lock-file pid (as root, $stream_pid is runuser's, which does not pass SIGTERM
# on to walvault), then reaps the wrapper.
stop_streamer() {
  [[ -n $stream_pid ]] || return 0
  [[ -f $work/repo/locks/stream.lock ]] && kill "$(cat "$work/repo/locks/stream.lock")" 2>/dev/null
  wait "$stream_pid" 2>/dev/null
  stream_pid=
}
