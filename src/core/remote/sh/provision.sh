# shellcheck shell=sh
# Provision Server: makes this server ready for backups. Idempotent: a step that
# finds its work already done says so and changes nothing. Each step prints one
# line with infrakt_step (step.sh); a step that fails says so and the others
# still run. Exits $infrakt_exit_provision only when nothing can be done: no
# root or passwordless sudo, or no package manager.
#
# Input: infrakt_dir (the backup directory); infrakt_provision_tools (a list,
# one `<engine> <tool>[|<alternative>…]` a line: the client tools host-mode
# databases need); infrakt_provision_docker (1: a container-mode database
# needs docker).

# Runs a command as root: directly, or with passwordless sudo.
infrakt_as_root() {
  if [ "$infrakt_pv_sudo" = 1 ]; then sudo -n "$@"; else "$@"; fi
}

infrakt_pv_privileges() {
  if [ "$(id -u)" = 0 ]; then
    infrakt_pv_sudo=0
    infrakt_step privileges 'done' root
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null </dev/null; then
    infrakt_pv_sudo=1
    infrakt_step privileges 'done' 'passwordless sudo'
  else
    infrakt_step privileges failed "needs root or passwordless sudo. Run as root by hand: apt-get install -y awscli gzip zstd cron && mkdir -p $infrakt_dir && chmod 700 $infrakt_dir"
    exit "$infrakt_exit_provision"
  fi
}

infrakt_pv_package_manager() {
  infrakt_pv_pm=''
  for infrakt_pv_c in apt-get dnf yum apk zypper; do
    if command -v "$infrakt_pv_c" >/dev/null 2>&1; then
      infrakt_pv_pm=$infrakt_pv_c
      break
    fi
  done
  if [ -z "$infrakt_pv_pm" ]; then
    infrakt_step package-manager failed 'no apt-get, dnf, yum, apk or zypper found: install awscli, gzip and cron by hand'
    exit "$infrakt_exit_provision"
  fi
  infrakt_step package-manager 'done' "$infrakt_pv_pm"
}

# infrakt_pkg_install <package>...: quietly, with the package manager found
# (apt-get reads its package lists once per run).
infrakt_pkg_install() {
  case "$infrakt_pv_pm" in
    apt-get)
      if [ "$infrakt_pv_updated" = 0 ]; then
        infrakt_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 </dev/null
        infrakt_pv_updated=1
      fi
      infrakt_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 </dev/null
      ;;
    dnf | yum) infrakt_as_root "$infrakt_pv_pm" install -y -q "$@" >/dev/null 2>&1 </dev/null ;;
    apk) infrakt_as_root apk add --no-cache "$@" >/dev/null 2>&1 </dev/null ;;
    zypper) infrakt_as_root zypper -n -q install "$@" >/dev/null 2>&1 </dev/null ;;
  esac
}

infrakt_aws_version() {
  aws --version 2>&1 </dev/null | head -n1
}

# awscli: the distribution's package first, then pipx (Debian 12 and later
# refuse a system-wide pip install).
infrakt_pv_awscli() {
  if command -v aws >/dev/null 2>&1; then
    infrakt_step awscli 'done' "$(infrakt_aws_version)"
    return 0
  fi
  case "$infrakt_pv_pm" in apk | zypper) infrakt_pv_p=aws-cli ;; *) infrakt_pv_p=awscli ;; esac
  if infrakt_pkg_install "$infrakt_pv_p" && command -v aws >/dev/null 2>&1; then
    infrakt_step awscli changed "installed $(infrakt_aws_version)"
  elif { command -v pipx >/dev/null 2>&1 || infrakt_pkg_install pipx; } &&
    infrakt_as_root env PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin pipx install awscli >/dev/null 2>&1 </dev/null &&
    command -v aws >/dev/null 2>&1; then
    infrakt_step awscli changed "installed with pipx: $(infrakt_aws_version)"
  else
    infrakt_step awscli failed "could not install awscli with $infrakt_pv_pm or pipx: install it by hand (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"
  fi
}

infrakt_pv_compressors() {
  if command -v gzip >/dev/null 2>&1; then
    infrakt_step gzip 'done' present
  elif infrakt_pkg_install gzip; then
    infrakt_step gzip changed installed
  else
    infrakt_step gzip failed 'could not install gzip'
  fi
  if command -v zstd >/dev/null 2>&1; then
    infrakt_step zstd 'done' present
  elif infrakt_pkg_install zstd && command -v zstd >/dev/null 2>&1; then
    infrakt_step zstd changed installed
  else
    infrakt_step zstd warn "zstd not available from $infrakt_pv_pm: backups use gzip (slower, larger)"
  fi
}

# age, when backups are encrypted (infrakt_provision_age=1): the pipeline's
# encryption stage and the restore's decryption.
infrakt_pv_age() {
  [ "${infrakt_provision_age:-0}" = 1 ] || return 0
  if command -v age >/dev/null 2>&1; then
    infrakt_step age 'done' present
  elif infrakt_pkg_install age && command -v age >/dev/null 2>&1; then
    infrakt_step age changed 'installed (backups are encrypted)'
  else
    infrakt_step age failed "age not available from $infrakt_pv_pm: encrypted backups cannot run here (install age from https://github.com/FiloSottile/age/releases)"
  fi
}

# curl, for alerts (webhooks, chat, ntfy, healthchecks pings) sent by the
# scheduled runs: installed unless the server has curl or GNU wget
# (httpclient.sh: busybox's wget cannot send them).
infrakt_pv_http_client() {
  if command -v curl >/dev/null 2>&1; then
    infrakt_step http-client 'done' 'curl present'
  elif infrakt_gnu_wget; then
    infrakt_step http-client 'done' 'GNU wget present (curl is preferred for alerts)'
  elif infrakt_pkg_install curl && command -v curl >/dev/null 2>&1; then
    infrakt_step http-client changed 'installed curl (alerts are sent with it)'
  else
    infrakt_step http-client warn "could not install curl with $infrakt_pv_pm: alerts from scheduled backups cannot be sent (install curl or GNU wget; busybox wget cannot send them)"
  fi
}

infrakt_pv_cron() {
  if command -v crontab >/dev/null 2>&1; then
    infrakt_step cron 'done' present
    return 0
  fi
  case "$infrakt_pv_pm" in dnf | yum) infrakt_pv_c=cronie ;; apk) infrakt_pv_c=dcron ;; *) infrakt_pv_c=cron ;; esac
  if infrakt_pkg_install "$infrakt_pv_c" && command -v crontab >/dev/null 2>&1; then
    infrakt_step cron changed "installed $infrakt_pv_c"
  else
    infrakt_step cron failed "could not install $infrakt_pv_c: scheduled backups need cron"
  fi
}

# An installed cron whose daemon does not run never runs a schedule: start it
# (and enable it at boot), then wait up to 5 s for it.
infrakt_pv_crond() {
  if infrakt_crond_running; then
    infrakt_step crond 'done' running
    return 0
  fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for infrakt_pv_u in cron crond cronie; do
      infrakt_as_root systemctl enable --now "$infrakt_pv_u" >/dev/null 2>&1 </dev/null && break
    done
  elif command -v rc-service >/dev/null 2>&1; then
    infrakt_as_root rc-update add crond >/dev/null 2>&1 </dev/null
    infrakt_as_root rc-service crond start >/dev/null 2>&1 </dev/null
  elif command -v service >/dev/null 2>&1; then
    for infrakt_pv_u in cron crond; do
      infrakt_as_root service "$infrakt_pv_u" start >/dev/null 2>&1 </dev/null && break
    done
  fi
  infrakt_pv_wait=0
  while ! infrakt_crond_running && [ "$infrakt_pv_wait" -lt 5 ]; do
    sleep 1
    infrakt_pv_wait=$((infrakt_pv_wait + 1))
  done
  if infrakt_crond_running; then
    infrakt_step crond changed 'started the cron daemon'
  else
    infrakt_step crond warn 'the cron daemon is not running and could not be started: schedules will not run until it is (e.g. systemctl enable --now cron)'
  fi
}

infrakt_pv_backup_dir() {
  if [ -d "$infrakt_dir" ] && [ "$(stat -c %a "$infrakt_dir" 2>/dev/null)" = 700 ]; then
    infrakt_step backup-dir 'done' "$infrakt_dir exists (0700)"
  elif infrakt_as_root mkdir -p "$infrakt_dir" && infrakt_as_root chmod 700 "$infrakt_dir"; then
    infrakt_step backup-dir changed "$infrakt_dir ready (0700)"
  else
    infrakt_step backup-dir failed "could not create $infrakt_dir"
  fi
}

# One step per tool the host-mode databases need, `tool-<its first name>`:
# done when any of its alternatives is installed, else a warning.
infrakt_pv_tools() {
  while IFS=' ' read -r infrakt_pv_engine infrakt_pv_alts; do
    [ -n "$infrakt_pv_alts" ] || continue
    infrakt_pv_names='' infrakt_pv_found=0 infrakt_pv_rest=$infrakt_pv_alts
    while [ -n "$infrakt_pv_rest" ]; do
      infrakt_pv_t=${infrakt_pv_rest%%"|"*}
      case "$infrakt_pv_rest" in
        *"|"*) infrakt_pv_rest=${infrakt_pv_rest#*"|"} ;;
        *) infrakt_pv_rest='' ;;
      esac
      infrakt_pv_names="${infrakt_pv_names:+$infrakt_pv_names or }$infrakt_pv_t"
      if command -v "$infrakt_pv_t" >/dev/null 2>&1; then infrakt_pv_found=1; fi
    done
    infrakt_pv_id="tool-${infrakt_pv_alts%%"|"*}"
    if [ "$infrakt_pv_found" = 1 ]; then
      infrakt_step "$infrakt_pv_id" 'done' "$infrakt_pv_names present"
    else
      infrakt_step "$infrakt_pv_id" warn "$infrakt_pv_names not found: backups of $infrakt_pv_engine databases on this host need it (install the $infrakt_pv_engine client package)"
    fi
  done <<EOF
$infrakt_provision_tools
EOF
}

infrakt_pv_docker() {
  [ "$infrakt_provision_docker" = 1 ] || return 0
  if command -v docker >/dev/null 2>&1; then
    infrakt_step docker 'done' "$(docker --version 2>/dev/null </dev/null | head -n1)"
  else
    infrakt_step docker warn 'docker not found: container-mode databases need it'
  fi
}

infrakt_provision() {
  set -u
  infrakt_pv_privileges
  infrakt_pv_package_manager
  infrakt_pv_updated=0
  infrakt_pv_awscli
  infrakt_pv_compressors
  infrakt_pv_age
  infrakt_pv_http_client
  infrakt_pv_cron
  infrakt_pv_crond
  infrakt_pv_backup_dir
  infrakt_pv_tools
  infrakt_pv_docker
  return 0
}
