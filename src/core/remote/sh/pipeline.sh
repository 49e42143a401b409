# shellcheck shell=sh
# The backup pipeline: Back Up Now, the safety backup before a restore and the
# scheduled run all call infrakt_backup. Each stage is its own process joined
# by fifos, so the script knows every pid and every exit status (finer than
# pipefail, and killable on cancel):
#
#   source (the engine's infrakt_db_dump) ─▶ compressor ─▶ [age] ─▶ tee ─▶ <name>.partial
#                                                                  ├──▶ sha256      (same pass)
#                                                                  └──▶ relay ─▶ gate ─▶ sink (e.g. aws s3 cp -)
#
# With infrakt_enc_recipient set (an age recipient: a public key, no secret),
# the compressed stream is encrypted to it and the name ends in .age: the file,
# its sha256 and every sink's copy are the encrypted bytes.
#
# The local file is committed (sha256 written, then renamed from .partial) only
# when every stage succeeded. tee runs with SIGPIPE ignored, so a sink that dies
# only loses its own copy. A write error on the file itself (disk full) ends tee
# at once where GNU tee has --output-error=exit-nopipe.
#
# The gate: a streaming uploader commits whatever it read once its input ends,
# so a failed dump must never reach it as an end of input. The relay copies the
# stream into the gate and then holds the gate open until the local file is
# committed (USR1); on any failure the sink is killed FIRST (it dies without
# completing its upload), then the relay, then the sink's abort removes what it
# left. The watchdog ends everything if the script itself was killed, and stops
# a sink that made no progress for its stall limit.
#
# Input (preamble): infrakt_dir, infrakt_base, infrakt_format,
# infrakt_progress_every, infrakt_sweep_seconds, infrakt_sinks (ids), and for
# each sink infrakt_stall_<id>; the engine's infrakt_db_* values.
#
# A sink <id> is a module defining infrakt_sink_<id>_run, which reads the
# stream on stdin and must `exec` the one process that does (so killing its pid
# kills the reader), and optionally _init (set-up, before anything is created),
# _check (when it fails the sink is not started), _after (verify and commit
# the copy; INFRAKT_FILE, INFRAKT_NAME, INFRAKT_SHA256 and INFRAKT_SIZE are
# exported), _explain <its stderr> (after it failed: say why, when its own
# output does not), _abort (remove what an uncommitted run left) and _sweep (remove
# leftovers of earlier killed runs, in the background, long commands through
# infrakt_bg).

# sha256 of "abc" (FIPS 180-2 test vector): checks a hashing tool before it is trusted.
infrakt_sha256_abc=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad

# A backup's .sha256 (the file beside it and the commit mark in S3): sha256sum's
# line, then for an encrypted backup the key it was encrypted for, as a comment
# (sha256sum -c skips it), so a restore can name the key it needs. Readers take
# the first 64 bytes. $1 the sha256, $2 the file name.
infrakt_sum_lines() {
  printf '%s  %s\n' "$1" "$2"
  if [ -n "${infrakt_enc_recipient:-}" ]; then printf '# age recipient: %s\n' "$infrakt_enc_recipient"; fi
}

infrakt_has_fn() { command -v "$1" >/dev/null 2>&1; }

# infrakt_sv <sink> <field> <value> / infrakt_sg <sink> <field> (into $infrakt_r): per-sink state.
infrakt_sv() { eval "infrakt_sink_$1_$2=\$3"; }
infrakt_sg() { eval "infrakt_r=\${infrakt_sink_$1_$2:-}"; }

infrakt_abort_sinks() {
  for infrakt_s in ${infrakt_sinks:-}; do
    infrakt_sg "$infrakt_s" state
    if [ "$infrakt_r" = started ]; then
      infrakt_sv "$infrakt_s" state aborted
      if infrakt_has_fn "infrakt_sink_${infrakt_s}_abort"; then
        { "infrakt_sink_${infrakt_s}_abort"; } </dev/null >/dev/null 2>&1 || :
      fi
    fi
  done
  return 0
}

infrakt_kill_relays() {
  if [ -n "$infrakt_work" ]; then
    for infrakt_f in "$infrakt_work"/relaycat_*; do
      if [ -f "$infrakt_f" ] && read -r infrakt_p <"$infrakt_f"; then kill "$infrakt_p" 2>/dev/null || :; fi
    done
  fi
}

# The processes whose parent is $1 (from /proc; none where it is not mounted).
infrakt_children() {
  for infrakt_cf in /proc/[0-9]*/stat; do
    { read -r infrakt_cl <"$infrakt_cf"; } 2>/dev/null || continue
    # pid (comm) state ppid …: comm may hold spaces and parentheses, so cut after its last ") ".
    infrakt_cr=${infrakt_cl##*) }
    infrakt_cr=${infrakt_cr#* }
    if [ "${infrakt_cr%% *}" = "$1" ]; then echo "${infrakt_cl%% *}"; fi
  done
}

# TERM to $1 and every process under it, parents first: a shell that is waiting
# for its foreground pipeline runs its TERM trap as soon as the tools under it
# have gone (the pipeline alone would run on; nothing else in it would stop it).
infrakt_kill_tree() {
  infrakt_kt_all='' infrakt_kt_todo=$1
  while :; do
    case "$infrakt_kt_todo" in *[0-9]*) ;; *) break ;; esac
    infrakt_kt_next=''
    for infrakt_kt in $infrakt_kt_todo; do
      infrakt_kt_all="$infrakt_kt_all $infrakt_kt"
      infrakt_kt_next="$infrakt_kt_next $(infrakt_children "$infrakt_kt")"
    done
    infrakt_kt_todo=$infrakt_kt_next
  done
  for infrakt_kt in $infrakt_kt_all; do kill -TERM "$infrakt_kt" 2>/dev/null || :; done
}

infrakt_cleanup() {
  if [ "$infrakt_cleaned" = 1 ]; then return 0; fi
  infrakt_cleaned=1
  # The channel may be gone (a drop): a write to it must not kill the cleanup half-way;
  # a second signal must not cut it short either (the .partial would stay).
  trap '' PIPE INT TERM HUP
  # Sinks first: killed before their input can end, they never commit a truncated stream.
  for infrakt_p in $infrakt_sink_pids; do kill -TERM "$infrakt_p" 2>/dev/null || :; done
  for infrakt_p in $infrakt_pids; do kill "$infrakt_p" 2>/dev/null || :; done
  infrakt_kill_relays
  for infrakt_p in $infrakt_sweeps; do kill -TERM "$infrakt_p" 2>/dev/null || :; done
  # A caller's step still running (a verification restore) drops its scratch copy before it goes.
  if [ -n "${infrakt_step_pid:-}" ]; then infrakt_kill_tree "$infrakt_step_pid"; fi
  for infrakt_p in $infrakt_sink_pids $infrakt_sweeps ${infrakt_step_pid:-}; do wait "$infrakt_p" 2>/dev/null || :; done
  for infrakt_s in ${infrakt_sinks:-}; do infrakt_sink_stderr "$infrakt_s" || :; done
  infrakt_abort_sinks
  # An engine's own clean-up (Redis: stop replicating from a temporary server).
  if infrakt_has_fn infrakt_db_cleanup; then infrakt_db_cleanup || :; fi
  # A restore's spooled copy of a streamed backup, and a database it created and did not fill.
  if [ -n "${infrakt_spool:-}" ]; then rm -f -- "$infrakt_spool"; fi
  if [ "${infrakt_created_db:-0}" = 1 ] && [ "$infrakt_done" != 1 ] && infrakt_has_fn infrakt_db_drop; then
    infrakt_db_drop </dev/null >/dev/null 2>&1 || :
  fi
  if [ "$infrakt_done" != 1 ]; then
    for infrakt_f in "$infrakt_partial" "$infrakt_raw" "$infrakt_sumfile"; do
      if [ -n "$infrakt_f" ]; then rm -f -- "$infrakt_f"; fi
    done
  fi
  for infrakt_f in $infrakt_tmpdirs "$infrakt_work"; do
    if [ -n "$infrakt_f" ]; then rm -rf -- "$infrakt_f"; fi
  done
  return 0
}

# State and traps of a script that may leave files behind.
infrakt_pipeline_init() {
  infrakt_strict
  infrakt_work='' infrakt_partial='' infrakt_raw='' infrakt_last_size='' infrakt_est_size='' infrakt_est_from='' infrakt_expected_size='' infrakt_sumfile='' infrakt_pids='' infrakt_sink_pids='' infrakt_step_pid=''
  infrakt_done=0 infrakt_cleaned=0 infrakt_sweeps='' infrakt_sweep_started='' infrakt_tmpdirs='' infrakt_cur=''
  trap 'infrakt_cleanup' EXIT
  trap 'infrakt_cleanup; exit "$infrakt_exit_interrupted"' INT
  trap 'infrakt_cleanup; exit "$infrakt_exit_terminated"' TERM
  trap 'infrakt_cleanup; exit "$infrakt_exit_hangup"' HUP
}

# Leftovers of runs killed before their own cleanup (SIGKILL, OOM, a reboot):
# this database's .partial files and our temp dirs, once older than any plausible run.
infrakt_sweep_local() {
  infrakt_min=$((infrakt_sweep_seconds / 60))
  find "$infrakt_dir" -maxdepth 1 -type f -name "$infrakt_base*.partial*" -mmin +"$infrakt_min" -print -exec rm -f -- {} + 2>/dev/null |
    sed 's/^/infrakt: removed the leftover of a killed run: /' >&2 || :
  find "${TMPDIR:-/tmp}" -maxdepth 1 -type d \( -name 'infrakt.*' -o -name 'infrakt-aws.*' -o -name 'infrakt-sched.*' \) -user "$(id -u)" \
    -mmin +"$infrakt_min" -exec rm -rf -- {} + 2>/dev/null || :
}

# Fails before the dump when the disk cannot hold it: the newest backup of this
# database is the estimate (a first backup has none, and is not checked).
infrakt_free_space_check() {
  infrakt_last_size=$(find "$infrakt_dir" -maxdepth 1 -type f -name "$infrakt_base*.$infrakt_format.*" ! -name '*.sha256' ! -name '*.counts' ! -name '*.verify' ! -name '*.partial*' \
    -exec stat -c '%Y %s' {} + 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2) || infrakt_last_size=
  if [ -n "$infrakt_last_size" ]; then
    infrakt_free=$(df -Pk -- "$infrakt_dir" 2>/dev/null | awk 'NR == 2 { print $4 }') || infrakt_free=
    # 10 % and 1 MiB of headroom over the last backup's size, in KiB as df reports.
    infrakt_need=$((infrakt_last_size * 11 / 10240 + 1024))
    if [ -n "$infrakt_free" ] && [ "$infrakt_free" -lt "$infrakt_need" ]; then
      printf '%s %s %s %s\n' "$infrakt_mark_nospace" "$((infrakt_need * 1024))" "$((infrakt_free * 1024))" "$infrakt_last_size"
      echo "infrakt: not enough free space in $infrakt_dir: about $((infrakt_need / 1024)) MiB needed (the last backup was $((infrakt_last_size / 1048576)) MiB), $((infrakt_free / 1024)) MiB free" >&2
      exit "$infrakt_exit_no_space"
    fi
  fi
}

# The sha256 tool (infrakt_sha; reads stdin, the digest is its first 64 bytes):
# openssl hashes with the CPU's SHA instructions (4-5x sha256sum's speed on the
# bench machine), so it is used when it gives the right digest for a known input.
infrakt_pick_sha() {
  infrakt_resolve infrakt_sha sha256sum
  if command -v openssl >/dev/null 2>&1 &&
    [ "$(printf abc | openssl dgst -sha256 -r 2>/dev/null | cut -c1-64)" = "$infrakt_sha256_abc" ]; then
    infrakt_sha="openssl dgst -sha256 -r"
  fi
}

# The compressor, the hash and tee: the fastest that are there.
infrakt_pick_tools() {
  infrakt_pick_sha
  infrakt_resolve infrakt_fifo mkfifo
  if [ "$infrakt_db_precompressed" = 1 ]; then
    infrakt_comp='' infrakt_ext=gz infrakt_comp_name=none
  # Fastest levels: the dump must not wait on the compressor. On 2 cores zstd -1
  # kept Back Up Now near 2x a bare pg_dump where -3 took 2.9x, and its files are
  # still smaller than pg_dump -Fc's (bench/backup.ts).
  elif command -v zstd >/dev/null 2>&1; then
    infrakt_comp="zstd -1 -T0 -q -c" infrakt_ext=zst infrakt_comp_name=zstd
  elif command -v pigz >/dev/null 2>&1; then
    infrakt_comp="pigz -1 -c" infrakt_ext=gz infrakt_comp_name=pigz
  elif command -v gzip >/dev/null 2>&1; then
    infrakt_comp="gzip -1 -c" infrakt_ext=gz infrakt_comp_name=gzip
  else
    infrakt_missing 'zstd or gzip'
  fi
  infrakt_enc=''
  if [ -n "${infrakt_enc_recipient:-}" ]; then
    infrakt_resolve infrakt_age age
    infrakt_enc=.age
  fi
  # GNU tee: a reader that went away (a sink) is ignored, a write error on the file
  # (disk full) ends tee at once. Elsewhere SIGPIPE is ignored and we check the file.
  if tee --output-error=exit-nopipe </dev/null >/dev/null 2>&1; then
    infrakt_tee='tee --output-error=exit-nopipe' infrakt_tee_strict=1
  elif tee -p </dev/null >/dev/null 2>&1; then
    infrakt_tee='tee -p' infrakt_tee_strict=1
  else
    infrakt_tee=tee infrakt_tee_strict=0
  fi
}

# Claims a name nobody else has: noclobber-creates the .partial, and skips names already committed.
infrakt_claim_name() {
  infrakt_ts=$(date -u +%Y%m%dT%H%M%SZ)
  infrakt_n=1
  while :; do
    if [ "$infrakt_n" = 1 ]; then
      infrakt_name="$infrakt_base$infrakt_ts.$infrakt_format.$infrakt_ext$infrakt_enc"
    else
      infrakt_name="$infrakt_base$infrakt_ts-$infrakt_n.$infrakt_format.$infrakt_ext$infrakt_enc"
    fi
    infrakt_final="$infrakt_dir/$infrakt_name"
    if (set -C && : >"$infrakt_final.partial") 2>/dev/null; then
      infrakt_partial="$infrakt_final.partial"
      if [ ! -e "$infrakt_final" ]; then break; fi
      rm -f -- "$infrakt_partial"
      infrakt_partial=
    elif [ ! -d "$infrakt_dir" ] || [ ! -w "$infrakt_dir" ]; then
      echo "infrakt: cannot write in $infrakt_dir" >&2
      exit "$infrakt_exit_backup_dir"
    fi
    infrakt_n=$((infrakt_n + 1))
    if [ "$infrakt_n" -gt 999 ]; then
      echo "infrakt: no free backup name for $infrakt_ts" >&2
      exit "$infrakt_exit_name_taken"
    fi
  done
}

# Starts sink <id>: its gate, the relay that holds the gate open, the sink process.
infrakt_start_sink() {
  infrakt_s=$1
  mkfifo "$infrakt_work/sink_$infrakt_s" "$infrakt_work/gate_$infrakt_s"
  infrakt_sv "$infrakt_s" rc ''
  infrakt_sv "$infrakt_s" state started
  if ! infrakt_has_fn "infrakt_sink_${infrakt_s}_check" || "infrakt_sink_${infrakt_s}_check"; then
    # Our redirections first, so the sink's own (e.g. `> file`) win. Its
    # stderr is kept for _explain, and passed on when it ended.
    "infrakt_sink_${infrakt_s}_run" <"$infrakt_work/gate_$infrakt_s" >&2 2>"$infrakt_work/err_$infrakt_s" &
    infrakt_sv "$infrakt_s" pid $!
  else
    # Never started: drain the gate so the relay (and tee) never block on it.
    infrakt_sv "$infrakt_s" rc "$infrakt_sink_not_started"
    infrakt_sv "$infrakt_s" state none
    cat <"$infrakt_work/gate_$infrakt_s" >/dev/null &
    infrakt_sv "$infrakt_s" pid $!
  fi
  infrakt_sg "$infrakt_s" pid
  infrakt_sink_pids="$infrakt_sink_pids $infrakt_r"
  # The relay: copy, then hold the gate open (its own stdout) until released (USR1) or killed.
  (
    trap 'exit 0' USR1
    trap '' PIPE
    cat <"$infrakt_work/sink_$infrakt_s" &
    echo $! >"$infrakt_work/relaycat_$infrakt_s"
    wait $! || :
    while :; do
      # shellcheck disable=SC2217 # holds none of the channel's descriptors
      sleep 1 </dev/null >/dev/null 2>&1 &
      wait $! || :
    done
  ) </dev/null >"$infrakt_work/gate_$infrakt_s" &
  infrakt_sv "$infrakt_s" relay $!
  infrakt_pids="$infrakt_pids $!"
}

# Only after the local commit may a sink see the end of its input.
infrakt_release_sink() {
  infrakt_s=$1
  infrakt_sg "$infrakt_s" relay
  kill -USR1 "$infrakt_r" 2>/dev/null || :
  infrakt_sg "$infrakt_s" rc
  if [ -z "$infrakt_r" ]; then
    infrakt_sg "$infrakt_s" pid
    infrakt_rc=0
    wait "$infrakt_r" || infrakt_rc=$?
    infrakt_sv "$infrakt_s" rc "$infrakt_rc"
  fi
  # A stalled sink's leftovers are left to the next run's sweep: its endpoint does not answer now.
  if [ -e "$infrakt_work/stalled_$infrakt_s" ]; then
    infrakt_sv "$infrakt_s" rc "$infrakt_sink_stalled"
    infrakt_sv "$infrakt_s" state stalled
  fi
}

# Passes on what a sink that ended wrote to stderr (once; kept as .shown for _explain).
infrakt_sink_stderr() {
  if [ -n "$infrakt_work" ] && [ -f "$infrakt_work/err_$1" ]; then
    cat "$infrakt_work/err_$1" >&2
    mv -f "$infrakt_work/err_$1" "$infrakt_work/err_$1.shown"
  fi
}

infrakt_after_sink() {
  infrakt_s=$1
  infrakt_sg "$infrakt_s" rc
  infrakt_sink_stderr "$infrakt_s"
  if [ "$infrakt_r" != 0 ] && [ "$infrakt_r" != "$infrakt_sink_not_started" ] && [ "$infrakt_r" != "$infrakt_sink_stalled" ] &&
    infrakt_has_fn "infrakt_sink_${infrakt_s}_explain"; then
    { "infrakt_sink_${infrakt_s}_explain" "$infrakt_work/err_$infrakt_s.shown"; } </dev/null >&2 || :
  fi
  if [ "$infrakt_r" = 0 ] && infrakt_has_fn "infrakt_sink_${infrakt_s}_after"; then
    infrakt_rc=0
    { "infrakt_sink_${infrakt_s}_after"; } >&2 || infrakt_rc=$?
    infrakt_sv "$infrakt_s" rc "$infrakt_rc"
    infrakt_r=$infrakt_rc
  fi
  if [ "$infrakt_r" = 0 ]; then infrakt_sv "$infrakt_s" state committed; else infrakt_sink_failed=1; fi
}

# Sinks' sweeps cost awscli starts (about a second of CPU each) beside the
# dump, and what they remove is over an hour old: they run at most once per
# infrakt_sweep_every seconds for this database on this server (0: every run).
# The start of the last sweep that ran to its end in a committed run is kept
# in a hidden stamp file in the backup dir (a failed run leaves none).
infrakt_sweep_due() {
  infrakt_sweep_started=
  [ "$infrakt_sweep_every" -gt 0 ] || return 0
  # A clock that gives no epoch seconds: sweep, and keep no stamp.
  infrakt_sweep_started=$(date +%s 2>/dev/null) || :
  case "$infrakt_sweep_started" in '' | *[!0-9]*)
    infrakt_sweep_started=
    return 0
    ;;
  esac
  infrakt_last=0
  if [ -f "$infrakt_dir/.sweep-$infrakt_base" ]; then read -r infrakt_last <"$infrakt_dir/.sweep-$infrakt_base" || infrakt_last=0; fi
  case "$infrakt_last" in '' | *[!0-9]*) infrakt_last=0 ;; esac
  [ $((infrakt_sweep_started - infrakt_last)) -ge "$infrakt_sweep_every" ] || {
    infrakt_sweep_started=
    return 1
  }
}

infrakt_sweep_stamp() {
  if [ "$infrakt_sweep_every" -gt 0 ] && [ -n "$infrakt_sweep_started" ] && [ -n "$infrakt_sweeps" ]; then
    printf '%s\n' "$infrakt_sweep_started" >"$infrakt_dir/.sweep-$infrakt_base" 2>/dev/null || :
  fi
}

infrakt_start_sweeps() {
  infrakt_sweep_due || return 0
  for infrakt_s in $infrakt_sinks; do
    if infrakt_has_fn "infrakt_sink_${infrakt_s}_sweep"; then
      # Its commands run through infrakt_bg, so a TERM (clean-up, or a sink that fails)
      # ends the command it is waiting on too, not only the subshell.
      (
        trap 'kill "$infrakt_cur" 2>/dev/null; exit 0' TERM
        infrakt_cur=
        "infrakt_sink_${infrakt_s}_sweep"
      ) </dev/null >&2 2>&1 &
      infrakt_sweeps="$infrakt_sweeps $!"
    fi
  done
}

# Stall: the relay is blocked writing into the sink (the sink takes no more of the
# stream) and passed nothing on for N s. A slow dump is not a stall: the relay then
# waits on its read. Blocked-in-write is read from /proc (wchan, else the syscall
# number on x86_64/arm64). Data the sink already took in (awscli holds up to ~80 MB
# in memory) is bounded by the sink's own timeouts instead.
infrakt_watch_sink() {
  infrakt_s=$1
  eval "infrakt_limit=\${infrakt_stall_$infrakt_s:-0}"
  [ "$infrakt_limit" -gt 0 ] || return 0
  infrakt_sg "$infrakt_s" stopped
  [ -z "$infrakt_r" ] || return 0
  infrakt_sg "$infrakt_s" cat
  if [ -z "$infrakt_r" ]; then
    read -r infrakt_r 2>/dev/null <"$infrakt_work/relaycat_$infrakt_s" || infrakt_r=
    infrakt_sv "$infrakt_s" cat "$infrakt_r"
  fi
  infrakt_c=$infrakt_r
  [ -n "$infrakt_c" ] || return 0
  { read -r infrakt_k infrakt_rd && read -r infrakt_k infrakt_w; } 2>/dev/null <"/proc/$infrakt_c/io" || return 0
  infrakt_wc=
  read -r infrakt_wc 2>/dev/null <"/proc/$infrakt_c/wchan" || :
  infrakt_blocked=0
  case "$infrakt_wc" in
    *write*) infrakt_blocked=1 ;;
    ?*) ;;
    *)
      infrakt_sc=
      read -r infrakt_sc infrakt_k 2>/dev/null <"/proc/$infrakt_c/syscall" || :
      case "$infrakt_arch:$infrakt_sc" in x86_64:1 | aarch64:64) infrakt_blocked=1 ;; esac
      ;;
  esac
  infrakt_sg "$infrakt_s" lastw
  if [ "$infrakt_blocked" = 0 ] || [ "$infrakt_w" != "$infrakt_r" ]; then
    infrakt_sv "$infrakt_s" lastw "$infrakt_w"
    infrakt_sv "$infrakt_s" since "$infrakt_t"
    return 0
  fi
  infrakt_sg "$infrakt_s" since
  if [ $((infrakt_t - ${infrakt_r:-0})) -ge "$infrakt_limit" ]; then
    infrakt_sv "$infrakt_s" stopped 1
    : >"$infrakt_work/stalled_$infrakt_s"
    echo "infrakt: the $infrakt_s upload made no progress for $infrakt_limit s — stopped it; the local backup goes on" >&2
    infrakt_sg "$infrakt_s" pid
    kill -TERM "$infrakt_r" 2>/dev/null || :
  fi
}

# The watchdog, every second: ends everything if this script was killed (SIGKILL,
# OOM), stops a stalled sink, and prints progress — also the heartbeat: when the
# channel is gone, printf fails and the run is cancelled.
infrakt_watchdog() {
  trap '' PIPE
  infrakt_t=0
  infrakt_arch=$(uname -m 2>/dev/null) || infrakt_arch=
  while :; do
    # shellcheck disable=SC2217 # holds none of the channel's descriptors
    sleep 1 </dev/null >/dev/null 2>&1
    infrakt_t=$((infrakt_t + 1))
    if ! kill -0 "$infrakt_self" 2>/dev/null; then
      for infrakt_p in $infrakt_sink_pids; do kill -TERM "$infrakt_p" 2>/dev/null || :; done
      for infrakt_p in $infrakt_pids; do kill "$infrakt_p" 2>/dev/null || :; done
      infrakt_kill_relays
      exit 0
    fi
    for infrakt_s in $infrakt_sinks; do infrakt_watch_sink "$infrakt_s"; done
    if [ $((infrakt_t % infrakt_progress_every)) = 0 ]; then
      # After the commit the sinks may still be sending: the committed file's size then.
      infrakt_sz=$(stat -c %s -- "$infrakt_partial" 2>/dev/null || stat -c %s -- "$infrakt_final" 2>/dev/null) || infrakt_sz=0
      # The dump's bytes the compressor has read so far (Linux /proc; nothing elsewhere,
      # or once it has exited): what the estimate of the database's size is compared with.
      infrakt_cr=
      if [ -n "${infrakt_comp_pid:-}" ]; then
        # Once the compressor has exited its /proc entry is gone and read sets nothing:
        # under set -u an unset name would end the watchdog (and the heartbeat with it).
        infrakt_k=
        read -r infrakt_k infrakt_cr 2>/dev/null <"/proc/$infrakt_comp_pid/io" || infrakt_cr=
        [ "$infrakt_k" = rchar: ] || infrakt_cr=
        case "$infrakt_cr" in *[!0-9]*) infrakt_cr= ;; esac
      fi
      printf '%s %s%s\n' "$infrakt_mark_progress" "$infrakt_sz" "${infrakt_cr:+ $infrakt_cr}" || {
        kill -TERM "$infrakt_self" 2>/dev/null
        exit 0
      }
    fi
  done
}

# How large the stream may grow, before the dump starts, so a sink can prepare
# for it and the progress can say how far it is: infrakt_est_size (bytes; empty
# when nothing says) is the snapshot's size when the engine takes one, else the
# size the database reports (the engine's infrakt_db_size), else the last
# backup's; infrakt_est_from says which (snapshot, database, last), and the
# `estimate` mark prints both; infrakt_expected_size is
# twice that (for what compression cannot shrink: PostgreSQL writes bytea as
# hex), set only when it is large (over 50 GiB) — a stream announced as small
# would be sent in one request, held in memory.
infrakt_estimate_size() {
  infrakt_est_size='' infrakt_est_from=''
  if [ -n "$infrakt_raw" ] && [ -f "$infrakt_raw" ]; then
    infrakt_est_size=$(stat -c %s -- "$infrakt_raw" 2>/dev/null) || infrakt_est_size=
    infrakt_est_from=snapshot
  elif infrakt_has_fn infrakt_db_size; then
    infrakt_est_size=$(infrakt_db_size 2>/dev/null | head -n 1 | tr -d ' \r') || infrakt_est_size=
    infrakt_est_from=database
  fi
  case "$infrakt_est_size" in '' | *[!0-9]*) infrakt_est_size=${infrakt_last_size:-} infrakt_est_from=last ;; esac
  case "$infrakt_est_size" in '' | *[!0-9]*) infrakt_est_size='' infrakt_est_from='' ;; esac
  if [ -n "$infrakt_est_size" ]; then
    printf '%s %s %s\n' "$infrakt_mark_estimate" "$infrakt_est_size" "$infrakt_est_from"
  fi
  # The last backup's size too: compressed like this one, the closest guess of what it writes.
  if [ "$infrakt_est_from" != last ] && [ -n "${infrakt_last_size:-}" ]; then
    printf '%s %s last\n' "$infrakt_mark_estimate" "$infrakt_last_size"
  fi
  infrakt_expected_size=
  if [ -n "$infrakt_est_size" ] && [ "$infrakt_est_size" -gt 26843545600 ]; then
    infrakt_expected_size=$((infrakt_est_size * 2))
  fi
}

# The dump source: the engine's snapshot step (Redis host mode), then its dump.
infrakt_start_source() {
  if [ "$infrakt_db_snapshots" = 1 ]; then
    infrakt_raw="$infrakt_final.partial-raw"
    infrakt_db_snapshot &
    infrakt_snap_pid=$!
    infrakt_pids="$infrakt_snap_pid"
    infrakt_snap_rc=0
    wait "$infrakt_snap_pid" || infrakt_snap_rc=$?
    [ "$infrakt_snap_rc" = 0 ] || infrakt_stage_failed "$infrakt_db_stage" "$infrakt_snap_rc"
  fi
  infrakt_db_prestart
}

# The live database's tables (or keys) and their row counts, taken beside the
# dump by the engine's infrakt_db_counts (in the background, read only) and
# kept as <name>.counts once the backup is committed: what Verify Backup
# compares a restored copy with. Counting never fails a backup.
infrakt_start_counts() {
  infrakt_counts_pid=
  [ "$infrakt_db_mode" = host ] && infrakt_has_fn infrakt_db_counts || return 0
  (infrakt_db_counts) </dev/null >"$infrakt_work/counts" 2>"$infrakt_work/counts.err" &
  infrakt_counts_pid=$!
  infrakt_pids="$infrakt_pids $infrakt_counts_pid"
}

infrakt_wait_counts() {
  [ -n "$infrakt_counts_pid" ] || return 0
  wait "$infrakt_counts_pid" || {
    echo "infrakt: warning: the database's rows could not be counted (Verify Backup will not compare them): $(infrakt_tail_lines "$infrakt_work/counts.err")" >&2
    infrakt_counts_pid=
  }
}

# After the commit: the counts beside the backup (a failure costs only the comparison).
infrakt_keep_counts() {
  [ -n "$infrakt_counts_pid" ] || return 0
  cat -- "$infrakt_work/counts" >"$infrakt_final.counts" 2>/dev/null || rm -f -- "$infrakt_final.counts"
}

infrakt_result_line() {
  infrakt_js=''
  for infrakt_s in $infrakt_sinks; do
    infrakt_sg "$infrakt_s" rc
    infrakt_js="$infrakt_js${infrakt_js:+,}\"$infrakt_s\":$infrakt_r"
  done
  printf '%s {"file":"%s","dir":"%s","size":%s,"sha256":"%s","compression":"%s","sinks":{%s}}\n' \
    "$infrakt_mark_result" "$infrakt_name" "$infrakt_dir" "$infrakt_size" "$infrakt_sha256" "$infrakt_comp_name" "$infrakt_js"
}

infrakt_backup() {
  infrakt_pipeline_init
  for infrakt_s in $infrakt_sinks; do
    case "$infrakt_s" in '' | *[!A-Za-z0-9_]*) echo "infrakt: bad sink id $infrakt_s" >&2 && exit 2 ;; esac
  done
  infrakt_load_password
  for infrakt_s in $infrakt_sinks; do
    if infrakt_has_fn "infrakt_sink_${infrakt_s}_init"; then "infrakt_sink_${infrakt_s}_init"; fi
  done
  # Tools, before anything is created.
  if [ "$infrakt_db_mode" = container ]; then infrakt_resolve infrakt_docker docker; fi
  infrakt_db_plan
  infrakt_pick_tools
  # The backup dir: created 0700 (umask 077) when missing; never chmod-ed when it exists.
  if [ ! -d "$infrakt_dir" ]; then
    mkdir -p -- "$infrakt_dir" || {
      echo "infrakt: cannot create $infrakt_dir" >&2
      exit "$infrakt_exit_backup_dir"
    }
  fi
  [ -w "$infrakt_dir" ] || {
    echo "infrakt: $infrakt_dir is not writable" >&2
    exit "$infrakt_exit_backup_dir"
  }
  infrakt_sweep_local
  infrakt_free_space_check
  infrakt_claim_name
  infrakt_work=$(mktemp -d "${TMPDIR:-/tmp}/infrakt.XXXXXX")
  mkfifo "$infrakt_work/src" "$infrakt_work/comp" "$infrakt_work/sum"
  # This shell's own pid ($$ is the parent's inside a subshell, as in the scheduled run).
  # shellcheck disable=SC2016 # $PPID is the child's
  sh -c 'echo "$PPID"' >"$infrakt_work/self"
  read -r infrakt_self <"$infrakt_work/self"
  infrakt_start_sweeps
  infrakt_start_source
  infrakt_start_counts
  infrakt_estimate_size
  for infrakt_s in $infrakt_sinks; do infrakt_start_sink "$infrakt_s"; done
  $infrakt_sha <"$infrakt_work/sum" >"$infrakt_work/sha" &
  infrakt_sha_pid=$!
  (
    trap '' PIPE
    set -- "$infrakt_work/sum"
    for infrakt_s in $infrakt_sinks; do set -- "$@" "$infrakt_work/sink_$infrakt_s"; done
    exec $infrakt_tee "$@"
  ) <"$infrakt_work/comp" >"$infrakt_partial" &
  infrakt_tee_pid=$!
  # The compressor's output: tee's input, or age's when encrypting.
  infrakt_packed=$infrakt_work/comp
  infrakt_enc_pid=
  if [ -n "$infrakt_enc" ]; then
    infrakt_packed=$infrakt_work/enc
    mkfifo "$infrakt_packed"
    $infrakt_age -r "$infrakt_enc_recipient" <"$infrakt_packed" >"$infrakt_work/comp" &
    infrakt_enc_pid=$!
  fi
  if [ "$infrakt_db_precompressed" = 1 ]; then
    infrakt_db_dump >"$infrakt_packed" &
    infrakt_src_pid=$!
    infrakt_comp_pid=
  else
    $infrakt_comp <"$infrakt_work/src" >"$infrakt_packed" &
    infrakt_comp_pid=$!
    infrakt_db_dump >"$infrakt_work/src" &
    infrakt_src_pid=$!
  fi
  infrakt_pids="$infrakt_pids $infrakt_src_pid $infrakt_comp_pid $infrakt_enc_pid $infrakt_tee_pid $infrakt_sha_pid"
  infrakt_watchdog </dev/null &
  infrakt_pids="$infrakt_pids $!"
  infrakt_src_rc=0
  wait "$infrakt_src_pid" || infrakt_src_rc=$?
  infrakt_comp_rc=0
  if [ -n "$infrakt_comp_pid" ]; then wait "$infrakt_comp_pid" || infrakt_comp_rc=$?; fi
  infrakt_enc_rc=0
  if [ -n "$infrakt_enc_pid" ]; then wait "$infrakt_enc_pid" || infrakt_enc_rc=$?; fi
  infrakt_tee_rc=0
  wait "$infrakt_tee_pid" || infrakt_tee_rc=$?
  infrakt_sha_rc=0
  wait "$infrakt_sha_pid" || infrakt_sha_rc=$?
  # The file itself could not be written (disk full): the cause of any upstream failure.
  if [ "$infrakt_tee_rc" != 0 ] && { [ "$infrakt_tee_strict" = 1 ] || [ -z "$infrakt_sinks" ]; }; then
    infrakt_stage_failed write "$infrakt_tee_rc"
  fi
  if [ "$infrakt_src_rc" != 0 ]; then
    if [ "$infrakt_db_mode" = container ] && [ "$infrakt_src_rc" = "$infrakt_exit_tool_missing" ]; then
      infrakt_missing "$infrakt_db_tool @ in container $infrakt_db_container"
    fi
    infrakt_stage_failed "$infrakt_db_stage" "$infrakt_src_rc"
  fi
  [ "$infrakt_comp_rc" = 0 ] || infrakt_stage_failed "$infrakt_comp_name" "$infrakt_comp_rc"
  [ "$infrakt_enc_rc" = 0 ] || infrakt_stage_failed age "$infrakt_enc_rc"
  [ "$infrakt_sha_rc" = 0 ] || infrakt_stage_failed sha256sum "$infrakt_sha_rc"
  infrakt_sha256=$(cut -c1-64 <"$infrakt_work/sha")
  # busybox tee says "error" when a sink went away; the file is good only if it hashes to the stream.
  if [ "$infrakt_tee_rc" != 0 ]; then
    [ "$($infrakt_sha <"$infrakt_partial" | cut -c1-64)" = "$infrakt_sha256" ] || infrakt_stage_failed write "$infrakt_tee_rc"
  fi
  infrakt_size=$(stat -c %s -- "$infrakt_partial")
  infrakt_wait_counts
  # Commit: checksum first, then the atomic rename; a backup never exists without its .sha256.
  infrakt_sumfile="$infrakt_final.sha256"
  infrakt_sum_lines "$infrakt_sha256" "$infrakt_name" >"$infrakt_sumfile"
  # The caller's note of the file being committed: after a signal, it is there or not.
  if infrakt_has_fn infrakt_on_commit; then infrakt_on_commit; fi
  infrakt_done=1
  mv -f -- "$infrakt_partial" "$infrakt_final" || {
    infrakt_done=0
    infrakt_stage_failed rename 1
  }
  if [ -n "$infrakt_raw" ]; then rm -f -- "$infrakt_raw"; fi
  infrakt_keep_counts
  for infrakt_s in $infrakt_sinks; do infrakt_release_sink "$infrakt_s"; done
  INFRAKT_FILE=$infrakt_final INFRAKT_NAME=$infrakt_name INFRAKT_SHA256=$infrakt_sha256 INFRAKT_SIZE=$infrakt_size
  export INFRAKT_FILE INFRAKT_NAME INFRAKT_SHA256 INFRAKT_SIZE
  infrakt_sink_failed=0
  for infrakt_s in $infrakt_sinks; do infrakt_after_sink "$infrakt_s"; done
  infrakt_abort_sinks
  infrakt_sink_pids=
  if [ "$infrakt_sink_failed" = 1 ]; then
    for infrakt_p in $infrakt_sweeps; do kill -TERM "$infrakt_p" 2>/dev/null || :; done
  fi
  for infrakt_p in $infrakt_sweeps; do wait "$infrakt_p" 2>/dev/null || :; done
  if [ "$infrakt_sink_failed" != 1 ]; then infrakt_sweep_stamp; fi
  infrakt_sweeps=
  infrakt_result_line
  # A step of the caller's between the commit and the retention (the scheduled
  # run's verification restore); it sets infrakt_retention_hold to keep every
  # backup this time.
  infrakt_retention_hold=''
  if infrakt_has_fn infrakt_after_commit; then infrakt_after_commit; fi
  # Retention (retention.sh, when the policy keeps fewer than all): after the
  # commit, in the same run; it never fails the backup.
  if [ -n "$infrakt_retention_hold" ]; then
    echo "infrakt: retention not applied this time: $infrakt_retention_hold" >&2
  elif infrakt_has_fn infrakt_retention; then infrakt_retention || :; fi
  if [ "$infrakt_sink_failed" = 1 ]; then exit "$infrakt_exit_sink_failed"; fi
  exit 0
}
