# Shared by the bench scripts that run a streamer in the background (source it; uses their $work and $stream_pid).
# Stops the streamer: walvault by its lock-file pid (as root, $stream_pid is runuser's, which does not pass SIGTERM
# on to walvault), then reaps the wrapper.
stop_streamer() {
  [[ -n $stream_pid ]] || return 0
  [[ -f $work/repo/locks/stream.lock ]] && kill "$(cat "$work/repo/locks/stream.lock")" 2>/dev/null
  wait "$stream_pid" 2>/dev/null
  stream_pid=
}
