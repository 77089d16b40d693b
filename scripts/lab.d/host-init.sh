#!/usr/bin/env bash
# Runs as the first process of one lab host, already inside its network
# namespace (ip netns exec vmlab-hI) and a fresh private mount + UTS namespace
# (unshare -m -u --propagation private). Started by scripts/lab (up, restart);
# not meant to be run by hand.
#
#   host-init.sh ROOT NAME VMREPD CONFIG
#
# Gives the host its own /run, /etc/libvirt, /var/lib/libvirt, /var/log/libvirt
# and /var/cache/libvirt (bind mounts of ROOT/run, ROOT/etc-libvirt, ...), its
# host name, then starts virtlogd, libvirtd and sshd (daemons), waits for the
# libvirt socket, starts vmrepd in the background and stays alive as the
# host's holder (its PID in ROOT/holder.pid) so the namespaces live on. Every
# PID goes to a file under ROOT for scripts/lab down.
set -u
R="$1" name="$2" vmrepd="$3" config="$4"
echo $$ > "$R/holder.pid"
log() { echo "host-init[$name]: $*"; }

bind() { # SRC DST
  mkdir -p "$2"
  mount --bind "$1" "$2" || { log "mount --bind $1 $2 failed"; exit 1; }
}
bind "$R/run" /run
bind "$R/etc-libvirt" /etc/libvirt
bind "$R/lib" /var/lib/libvirt
bind "$R/log" /var/log/libvirt
bind "$R/cache" /var/cache/libvirt
hostname "$name"
mkdir -p /run/sshd /run/libvirt /run/vmrep-board /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt/qemu
chmod 0755 /run/sshd

# Pidfiles of a killed run are stale: the daemons refuse or misreport otherwise.
rm -f /run/virtlogd.pid /run/libvirtd.pid /run/sshd.pid
virtlogd -d -p /run/virtlogd.pid || log "virtlogd failed"
libvirtd -d -p /run/libvirtd.pid || log "libvirtd failed"
/usr/sbin/sshd -f "$R/ssh/sshd_config" -E "$R/sshd.log" || log "sshd failed"

for _ in $(seq 1 150); do
  [ -S /run/libvirt/libvirt-sock ] && break
  sleep 0.1
done
[ -S /run/libvirt/libvirt-sock ] || log "libvirtd socket did not appear within 15 s"

"$vmrepd" --config "$config" --node "$name" </dev/null >>"$R/vmrepd.log" 2>&1 &
echo $! > "$R/vmrepd.pid"
log "started: holder $$, vmrepd $!"

# The holder: bash waits (and so reaps vmrepd when it dies) on a sleep that
# never ends. scripts/lab kill takes it down with everything else.
sleep infinity &
while :; do wait; done
