#!/usr/bin/env bash
# A single-node SLURM cluster with accounting on this machine, for the `slurm`-marked
# tests (Debian slurm-wlm 22.05, daemons started by hand: no systemd). Run as root.
#   .ci/slurm_up.sh        start munge, MariaDB + slurmdbd, slurmctld and slurmd
#   .ci/slurm_up.sh down   stop them
# Accounting is on because submitit reads job states with `sacct`: without it a job
# that dies without a result leaves job.result() waiting for ever.
# cgroups are only partly mounted in containers: proctrack/linuxproc, task/none.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ "${1:-up}" = down ]; then
  for f in /run/slurm/slurmd.pid /run/slurm/slurmctld.pid /run/slurm/slurmdbd.pid \
           /run/munge/munged.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  mysqladmin shutdown 2>/dev/null || true
  exit 0
fi

T0=$(date +%s)
say() { echo "[slurm_up $(( $(date +%s) - T0 ))s] $*"; }
PKGS="slurm-wlm slurm-client munge slurmdbd mariadb-server"
if ! dpkg -s $PKGS >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
fi
say "packages installed"

HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 1024 ))

# munge: the authentication daemon
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
chmod 400 /etc/munge/munge.key
chmod 755 /run/munge
if ! { [ -S /run/munge/munge.socket.2 ] && munge -n >/dev/null 2>&1; }; then
  runuser -u munge -- /usr/sbin/munged
fi
say "munged up"

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=dynaxci
SlurmctldHost=${HOST}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=${HOST} CPUs=${CPUS} RealMemory=${MEM} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

# MariaDB + slurmdbd: accounting, so that sacct (and submitit) see job states
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if ! mysqladmin ping >/dev/null 2>&1; then
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null 2>&1
  (setsid mariadbd-safe --user=mysql >/dev/null 2>&1 &)
  for _ in $(seq 1 240); do mysqladmin ping >/dev/null 2>&1 && break; sleep 0.25; done
fi
mysql -u root -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
  CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
say "mariadb up"
cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
CONF
chmod 600 /etc/slurm/slurmdbd.conf
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
running /run/slurm/slurmdbd.pid || /usr/sbin/slurmdbd
for _ in $(seq 1 240); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.25; done
say "slurmdbd up"
running /run/slurm/slurmctld.pid || /usr/sbin/slurmctld
running /run/slurm/slurmd.pid || /usr/sbin/slurmd
for _ in $(seq 1 240); do
  [ "$(sinfo -h -N -o '%t' 2>/dev/null | head -1)" = idle ] && break
  sleep 0.25
done
state=$(sinfo -h -N -o '%N %t %c' 2>/dev/null | head -1)
say "slurmctld + slurmd up: $state"
case "$state" in *idle*) ;; *) echo "slurm_up: the node is not idle" >&2; exit 1 ;; esac
