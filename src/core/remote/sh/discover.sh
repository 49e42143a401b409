# shellcheck shell=sh
# Discover Databases: the candidates on this server, for the parser to sort out.
#   $infrakt_mark_docker ok | missing | error <first line of docker's message>
#   $infrakt_mark_container <one `docker ps` row as JSON>
#   $infrakt_mark_tool <tool> <its path>     for each tool found
#   $infrakt_mark_listen <port>              for each port that listens (TCP)
#
# Input: infrakt_discover_tools and infrakt_discover_ports (lists: one tool
# name, one port number a line). Reports; never fails.

infrakt_find_containers() {
  if ! command -v docker >/dev/null 2>&1; then
    printf '%s missing\n' "$infrakt_mark_docker"
    return 0
  fi
  if infrakt_dc_out=$(docker ps --format '{{json .}}' 2>&1 </dev/null); then
    printf '%s ok\n' "$infrakt_mark_docker"
    printf '%s\n' "$infrakt_dc_out" | while IFS= read -r infrakt_dc_row; do
      [ -z "$infrakt_dc_row" ] || printf '%s %s\n' "$infrakt_mark_container" "$infrakt_dc_row"
    done
  else
    printf '%s error %s\n' "$infrakt_mark_docker" "$(printf '%s\n' "$infrakt_dc_out" | head -n1)"
  fi
}

infrakt_find_tools() {
  while IFS= read -r infrakt_dt; do
    [ -n "$infrakt_dt" ] || continue
    if infrakt_dt_path=$(command -v "$infrakt_dt" 2>/dev/null); then
      printf '%s %s %s\n' "$infrakt_mark_tool" "$infrakt_dt" "$infrakt_dt_path"
    fi
  done <<EOF
$infrakt_discover_tools
EOF
}

# Listening TCP ports, one a line: ss when present, else /proc/net/tcp{,6}
# (state 0A is LISTEN; the port is hex).
infrakt_listening_ports() {
  if command -v ss >/dev/null 2>&1; then
    ss -ltn 2>/dev/null | awk 'NR > 1 { print $4 }' | sed 's/.*://'
  else
    awk '$4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
      while IFS= read -r infrakt_lp_hex; do printf '%d\n' "0x$infrakt_lp_hex"; done
  fi
}

infrakt_find_listening() {
  infrakt_dp_listening=$(infrakt_listening_ports)
  while IFS= read -r infrakt_dp; do
    [ -n "$infrakt_dp" ] || continue
    if printf '%s\n' "$infrakt_dp_listening" | grep -qxF "$infrakt_dp"; then
      printf '%s %s\n' "$infrakt_mark_listen" "$infrakt_dp"
    fi
  done <<EOF
$infrakt_discover_ports
EOF
}

infrakt_discover() {
  set -u
  infrakt_find_containers
  infrakt_find_tools
  infrakt_find_listening
  return 0
}
