# shellcheck shell=sh
# Alerts sent from the server: a scheduled run's outcome (and Back Up Now's,
# and Send Test Alert) to webhooks, Slack / Discord / Mattermost incoming
# webhooks, ntfy topics and healthchecks-style pings, with curl (or GNU wget).
# A destination's URL and token authorize posting: they reach curl as its
# config on stdin (`curl -K -`) and wget as a 0600 config file and `-i -`,
# never in argv; they are never logged. Only builtins (printf) see them.
#
# Input: infrakt_alert_dests, one destination per line, tab-separated:
#   <kind> <when> <url> <token or -> <name>
# (kind: webhook slack discord mattermost ntfy healthchecks; when: failure or
# always; url and token hold no whitespace, quotes or backslashes — checked
# when they were saved). The event: infrakt_alert_event (start ok failed
# test), infrakt_alert_server, infrakt_alert_database, infrakt_alert_engine,
# infrakt_alert_cause, infrakt_alert_file, infrakt_alert_size,
# infrakt_alert_duration (seconds), infrakt_alert_trigger (scheduled manual test).
# Output: per destination one `$infrakt_mark_alert <index> <http status|error> <detail>`
# line when infrakt_alert_marks=1, a log line always; infrakt_alert_failures
# lists the failures ("name: why; ...").

infrakt_alert_workdir() {
  if [ -z "${infrakt_alert_dir:-}" ] || [ ! -d "$infrakt_alert_dir" ]; then
    infrakt_alert_dir=$(mktemp -d "${TMPDIR:-/tmp}/infrakt-alert.XXXXXX") || {
      infrakt_alert_dir=
      return 1
    }
    infrakt_tmpdirs="${infrakt_tmpdirs:-} $infrakt_alert_dir"
  fi
}

# A header value: one line, no quotes or backslashes (curl config and wgetrc quoting).
infrakt_alert_header_text() { printf '%s' "$1" | tr '\n\r\t' '   ' | tr -d '\000-\037"\134' | cut -c1-200; }

# The one-line message of the chat kinds and ntfy.
infrakt_alert_message() {
  infrakt_am_what="$infrakt_alert_database ($infrakt_alert_engine) on $infrakt_alert_server"
  case "$infrakt_alert_event" in
    failed) printf 'infrakt: backup of %s FAILED: %s' "$infrakt_am_what" "${infrakt_alert_cause:-no cause recorded}" ;;
    ok) printf 'infrakt: backup of %s ok: %s (%s bytes, %ss)' "$infrakt_am_what" "$infrakt_alert_file" "${infrakt_alert_size:-0}" "${infrakt_alert_duration:-0}" ;;
    test) printf 'infrakt: test alert from %s — no backup ran; scheduled backups report here' "$infrakt_alert_server" ;;
    *) printf 'infrakt: backup of %s started' "$infrakt_am_what" ;;
  esac
}

# infrakt_alert_body <kind> <file>: the request body in the kind's own shape.
infrakt_alert_body() {
  infrakt_ab_msg=$(infrakt_json_text "$(infrakt_alert_message)")
  case "$infrakt_alert_event" in
    ok) infrakt_ab_status=ok ;;
    failed) infrakt_ab_status=failed ;;
    *) infrakt_ab_status=$infrakt_alert_event ;;
  esac
  case "$1" in
    slack) printf '{"text":"%s"}\n' "$infrakt_ab_msg" ;;
    discord) printf '{"content":"%s","username":"infrakt"}\n' "$infrakt_ab_msg" ;;
    mattermost) printf '{"text":"%s","username":"infrakt"}\n' "$infrakt_ab_msg" ;;
    ntfy) infrakt_alert_message ;;
    healthchecks) if [ "$infrakt_alert_event" = failed ]; then printf '%s\n' "$infrakt_alert_cause"; fi ;;
    *)
      printf '{"server":"%s","database":"%s","engine":"%s","status":"%s","trigger":"%s"' \
        "$(infrakt_json_text "$infrakt_alert_server")" "$(infrakt_json_text "$infrakt_alert_database")" \
        "$(infrakt_json_text "$infrakt_alert_engine")" "$infrakt_ab_status" "${infrakt_alert_trigger:-scheduled}"
      if [ -n "${infrakt_alert_cause:-}" ]; then printf ',"cause":"%s"' "$(infrakt_json_text "$infrakt_alert_cause")"; else printf ',"cause":null'; fi
      if [ -n "${infrakt_alert_file:-}" ]; then
        printf ',"file":"%s","size":%s' "$(infrakt_json_text "$infrakt_alert_file")" "${infrakt_alert_size:-0}"
      else
        printf ',"file":null,"size":null'
      fi
      printf ',"duration":%s,"time":"%s","message":"%s"}\n' "${infrakt_alert_duration:-0}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$infrakt_ab_msg"
      ;;
  esac >"$2"
}

# The URL a healthchecks-style ping goes to: <url>/start, <url>, <url>/fail (a
# query string stays at the end). Uptime Kuma's push URLs (/api/push/<token>)
# take the outcome in the query instead, and have no start (empty: not sent).
infrakt_alert_ping_url() {
  infrakt_pu_base=${1%%\?*}
  infrakt_pu_query=${1#"$infrakt_pu_base"}
  infrakt_pu_base=${infrakt_pu_base%/}
  case "$infrakt_pu_base" in
    */api/push/*)
      case "$infrakt_alert_event" in
        start) ;;
        failed) printf '%s?status=down&msg=backup%%20failed' "$infrakt_pu_base" ;;
        *) printf '%s?status=up&msg=OK' "$infrakt_pu_base" ;;
      esac
      return 0
      ;;
  esac
  case "$infrakt_alert_event" in
    start) printf '%s/start%s' "$infrakt_pu_base" "$infrakt_pu_query" ;;
    failed) printf '%s/fail%s' "$infrakt_pu_base" "$infrakt_pu_query" ;;
    *) printf '%s%s' "$infrakt_pu_base" "$infrakt_pu_query" ;;
  esac
}

# infrakt_alert_headers <kind> <token>: the request's headers, one per line.
infrakt_alert_headers() {
  case "$1" in
    ntfy | healthchecks) printf '%s\n' 'Content-Type: text/plain; charset=utf-8' ;;
    *) printf '%s\n' 'Content-Type: application/json' ;;
  esac
  if [ "$1" = ntfy ]; then
    printf 'Title: %s\n' "$(infrakt_alert_header_text "infrakt: $infrakt_alert_database on $infrakt_alert_server")"
    case "$infrakt_alert_event" in
      failed) printf '%s\n' 'Priority: high' 'Tags: warning' ;;
      ok) printf '%s\n' 'Tags: white_check_mark' ;;
      *) printf '%s\n' 'Tags: information_source' ;;
    esac
  fi
  if [ "$2" != - ]; then printf 'Authorization: Bearer %s\n' "$2"; fi
}

# infrakt_alert_post <url> <token> <kind> <body file>: sets infrakt_ap_code
# (the HTTP status, or empty) and infrakt_ap_error (the network error).
infrakt_alert_post() {
  infrakt_ap_code='' infrakt_ap_error=''
  : >"$infrakt_alert_dir/resp"
  if command -v curl >/dev/null 2>&1; then
    infrakt_ap_rc=0
    {
      printf 'url = "%s"\n' "$1"
      printf 'data-binary = "@%s"\n' "$4"
      infrakt_alert_headers "$3" "$2" | while IFS= read -r infrakt_ap_h; do printf 'header = "%s"\n' "$infrakt_ap_h"; done
      printf '%s\n' 'silent' 'show-error' 'max-time = 20' 'connect-timeout = 10'
      printf 'output = "%s"\n' "$infrakt_alert_dir/resp"
      printf '%s\n' 'write-out = "%{http_code}"'
    } | curl -K - >"$infrakt_alert_dir/code" 2>"$infrakt_alert_dir/err" || infrakt_ap_rc=$?
    infrakt_ap_code=$(tr -dc '0-9' <"$infrakt_alert_dir/code")
    if [ "$infrakt_ap_rc" != 0 ] || [ -z "$infrakt_ap_code" ] || [ "$infrakt_ap_code" = 000 ]; then
      infrakt_ap_code=
      infrakt_ap_error=$(infrakt_tail_lines "$infrakt_alert_dir/err")
      infrakt_ap_error="${infrakt_ap_error:-curl failed (exit $infrakt_ap_rc)}"
    fi
  elif infrakt_gnu_wget; then
    # GNU wget: headers from a 0600 wgetrc (umask 077), the URL on stdin.
    infrakt_alert_headers "$3" "$2" | while IFS= read -r infrakt_ap_h; do printf 'header = %s\n' "$infrakt_ap_h"; done >"$infrakt_alert_dir/wgetrc"
    printf 'post_file = %s\n' "$4" >>"$infrakt_alert_dir/wgetrc"
    infrakt_ap_rc=0
    printf '%s\n' "$1" | wget --config="$infrakt_alert_dir/wgetrc" -S -q -T 20 -t 1 -O "$infrakt_alert_dir/resp" -i - 2>"$infrakt_alert_dir/err" || infrakt_ap_rc=$?
    infrakt_ap_code=$(sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' "$infrakt_alert_dir/err" | tail -n 1)
    if [ -z "$infrakt_ap_code" ]; then
      infrakt_ap_error=$(grep -v '^ ' "$infrakt_alert_dir/err" | infrakt_tail_lines /dev/stdin)
      infrakt_ap_error="${infrakt_ap_error:-wget failed (exit $infrakt_ap_rc)}"
    fi
  else
    if command -v wget >/dev/null 2>&1; then
      infrakt_ap_error='curl is not installed on this server, and its wget is busybox'"'"'s, which cannot send alerts without putting the URL and token on its command line — run Provision Server (it installs curl)'
    else
      infrakt_ap_error='neither curl nor wget is installed on this server — run Provision Server'
    fi
  fi
}

# What an answer that is not 2xx means, in words.
infrakt_alert_explain() {
  infrakt_ae_resp=$(head -c 300 "$infrakt_alert_dir/resp" 2>/dev/null | tr '\n\r\t' '   ' | tr -d '\000-\037')
  case "$2" in
    404 | 410)
      case "$1" in
        slack | discord | mattermost) infrakt_ae_why='the webhook was revoked or its URL is wrong — create a new incoming webhook and save its URL' ;;
        healthchecks) infrakt_ae_why='no check with this URL — copy the ping URL from the check again' ;;
        *) infrakt_ae_why='the URL is not known to the receiver — check it' ;;
      esac
      ;;
    401 | 403) infrakt_ae_why='not authorized — check the token (or the key in the URL)' ;;
    429) infrakt_ae_why='rate-limited by the receiver' ;;
    4*) infrakt_ae_why='the receiver refused the request' ;;
    *) infrakt_ae_why='the receiver had an error' ;;
  esac
  printf 'HTTP %s: %s%s' "$2" "$infrakt_ae_why" "${infrakt_ae_resp:+ (it said: $infrakt_ae_resp)}"
}

# Sends the event to every destination that wants it. Never fails: what went
# wrong is in infrakt_alert_failures (and the log and marks).
infrakt_alert_send_all() {
  infrakt_alert_failures=
  [ -n "${infrakt_alert_dests:-}" ] || return 0
  if ! infrakt_alert_workdir; then
    infrakt_alert_failures='cannot create a temp dir for the alerts'
    echo "infrakt: alerts not sent: $infrakt_alert_failures" >&2
    return 0
  fi
  infrakt_as_i=0
  infrakt_as_tab=$(printf '\t')
  # A here-document, not a pipe: the loop runs in this shell and keeps infrakt_alert_failures.
  while IFS=$infrakt_as_tab read -r infrakt_as_kind infrakt_as_when infrakt_as_url infrakt_as_token infrakt_as_name; do
    [ -n "$infrakt_as_kind" ] || continue
    infrakt_as_i=$((infrakt_as_i + 1))
    case "$infrakt_alert_event:$infrakt_as_kind:$infrakt_as_when" in
      *:healthchecks:*) ;;
      start:*) continue ;;
      ok:*:failure) continue ;;
    esac
    if [ "$infrakt_as_kind" = healthchecks ]; then
      infrakt_as_url=$(infrakt_alert_ping_url "$infrakt_as_url")
      [ -n "$infrakt_as_url" ] || continue
    fi
    infrakt_alert_body "$infrakt_as_kind" "$infrakt_alert_dir/body"
    infrakt_alert_post "$infrakt_as_url" "${infrakt_as_token:--}" "$infrakt_as_kind" "$infrakt_alert_dir/body"
    if [ -n "$infrakt_ap_code" ] && [ "$infrakt_ap_code" -ge 200 ] && [ "$infrakt_ap_code" -lt 300 ]; then
      infrakt_as_detail="sent ($infrakt_alert_event): HTTP $infrakt_ap_code"
      infrakt_as_status=$infrakt_ap_code
    else
      if [ -n "$infrakt_ap_code" ]; then
        infrakt_as_detail=$(infrakt_alert_explain "$infrakt_as_kind" "$infrakt_ap_code")
        infrakt_as_status=$infrakt_ap_code
      else
        infrakt_as_detail="not sent: $infrakt_ap_error"
        infrakt_as_status=error
      fi
      infrakt_as_f="alert to $infrakt_as_name ($infrakt_as_kind) failed: $infrakt_as_detail"
      infrakt_alert_failures="${infrakt_alert_failures:+$infrakt_alert_failures; }$infrakt_as_f"
    fi
    if [ "${infrakt_alert_marks:-0}" = 1 ]; then
      printf '%s %s %s %s\n' "$infrakt_mark_alert" "$infrakt_as_i" "$infrakt_as_status" "$(printf '%s' "$infrakt_as_detail" | tr '\n' ' ')"
      echo "infrakt: alert $infrakt_as_name ($infrakt_as_kind, $infrakt_alert_event): $infrakt_as_detail" >&2
    else
      echo "infrakt: alert $infrakt_as_name ($infrakt_as_kind, $infrakt_alert_event): $infrakt_as_detail"
    fi
  done <<EOF
$infrakt_alert_dests
EOF
  rm -f -- "$infrakt_alert_dir/body" "$infrakt_alert_dir/resp" "$infrakt_alert_dir/err" "$infrakt_alert_dir/code" "$infrakt_alert_dir/wgetrc"
  return 0
}

# Send Test Alert and Back Up Now's alerts: a script we wait for (the
# destinations in its preamble, from SecretStorage).
infrakt_alert_run() {
  set -u
  umask 077
  infrakt_tmpdirs=
  trap 'for infrakt_ar_d in ${infrakt_tmpdirs:-}; do rm -rf -- "$infrakt_ar_d"; done' EXIT
  infrakt_alert_marks=1
  infrakt_alert_send_all
  return 0
}
