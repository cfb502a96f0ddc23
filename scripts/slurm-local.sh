#!/usr/bin/env bash
# A one-node SLURM on this machine, for gradboard's cluster tests and tries:
#   scripts/slurm-local.sh start   installs slurm-wlm and munge when missing (Debian), writes a
#                                  munge key and a slurm.conf for this host's name, cores and
#                                  memory, starts munged, slurmctld and slurmd, waits for the
#                                  node to be idle (about 20 seconds)
#   scripts/slurm-local.sh stop    ends exactly the daemons start started (their pid files)
#   scripts/slurm-local.sh status  says whether it is up
# Its state lives in $GRADBOARD_SLURM_DIR (default /tmp/gradboard-slurm). The configuration
# goes to /etc/slurm/slurm.conf, where the SLURM commands look, unless a slurm.conf not written
# by this script is there: then it stays in the state folder and the script says which
# SLURM_CONF to export. notes/slurm-one-node.md has the settings and why.
set -euo pipefail

STATE="${GRADBOARD_SLURM_DIR:-/tmp/gradboard-slurm}"
MARK="# written by gradboard scripts/slurm-local.sh"
SYSTEM_CONF=/etc/slurm/slurm.conf

conf_path() {
  if [ ! -e "$SYSTEM_CONF" ] || grep -qF "$MARK" "$SYSTEM_CONF" 2>/dev/null; then
    echo "$SYSTEM_CONF"
  else
    echo "$STATE/slurm.conf"
  fi
}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "error: $0 $1 needs root (it starts munged, slurmctld and slurmd)" >&2
    exit 1
  fi
}

install_packages() {
  if command -v slurmctld >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null; then
    return
  fi
  echo "installing slurm-wlm and munge..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null) || {
    echo "error: could not install slurm-wlm and munge (apt-get failed)" >&2
    exit 1
  }
}

is_up() {
  local conf
  conf="$(conf_path)"
  SLURM_CONF="$conf" timeout 5 sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'
}

start() {
  need_root start
  install_packages
  mkdir -p "$STATE/ctld" "$STATE/d" /run/munge /var/log/munge /var/lib/munge
  if [ -f "$STATE/slurmctld.pid" ] && kill -0 "$(cat "$STATE/slurmctld.pid")" 2>/dev/null && is_up; then
    echo "slurm is already up ($(conf_path))"
    return
  fi
  # Munge: a key of its own user, and the daemon.
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  fi
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
  chmod 700 /etc/munge
  chmod 400 /etc/munge/munge.key
  if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    cp /run/munge/munged.pid "$STATE/munged.pid"
  fi
  local host cpus mem conf
  host="$(hostname -s)"
  cpus="$(nproc)"
  mem="$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)"
  conf="$(conf_path)"
  mkdir -p "$(dirname "$conf")"
  cat >"$conf" <<EOF
$MARK
ClusterName=gradboard
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1,sched_min_interval=100000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
MaxArraySize=10001
MinJobAge=600
KillWait=60
MpiDefault=none
MailProg=/bin/true
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  SLURM_CONF="$conf" /usr/sbin/slurmctld -f "$conf"
  SLURM_CONF="$conf" /usr/sbin/slurmd -f "$conf"
  for _ in $(seq 1 60); do
    if is_up; then
      echo "slurm is up: node $host, $cpus CPUs ($conf)"
      if [ "$conf" != "$SYSTEM_CONF" ]; then
        echo "export SLURM_CONF=$conf"
      fi
      return
    fi
    SLURM_CONF="$conf" scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  echo "error: slurm did not come up in 60 s; see $STATE/slurmctld.log and $STATE/slurmd.log" >&2
  exit 1
}

stop() {
  need_root stop
  local name pid
  for name in slurmd slurmctld munged; do
    if [ -f "$STATE/$name.pid" ]; then
      pid="$(cat "$STATE/$name.pid")"
      if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 50); do
          kill -0 "$pid" 2>/dev/null || break
          sleep 0.1
        done
      fi
      rm -f "$STATE/$name.pid"
    fi
  done
  echo "slurm stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if [ -f "$STATE/slurmctld.pid" ] && is_up; then echo "up ($(conf_path))"; else echo "down"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
