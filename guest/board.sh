#!/bin/busybox sh
# The bulletin board: vmrep's stateful test service (the paper's use case).
#
#   board.sh TTY DISK
#
# Reads one command per line from TTY and answers on TTY; every answer ends
# with a line "END". Posts live twice: in guest memory (/tmp/posts, one line
# each, on the initramfs' RAM file system) and on DISK, post N in 512-byte
# sector N (sector 0 is unused), NUL padded and written with fsync, so a
# checkpoint captures them in both the memory image and the disk layer.
#
#   PING         -> PONG
#   POST <text>  -> OK <n>   (text: one line, at most 500 bytes)
#   LIST         -> the posts in memory, one a line
#   DISK         -> the posts read back from DISK (page cache dropped first)
#   COUNT        -> number of posts in memory
#   ECHO <token> -> <token>  (the host resynchronizes on it after connecting)
#
# Nothing is printed unasked: output sent while no host is connected to the
# serial socket is lost, so the host asks PING until it gets PONG.
tty="$1"
disk="$2"
posts=/tmp/posts
touch "$posts"
stty -F "$tty" raw -echo 2>/dev/null
exec <"$tty" >"$tty" 2>/dev/null

read_disk() {
  sync
  echo 3 > /proc/sys/vm/drop_caches
  i=1
  while [ "$i" -lt 4096 ]; do
    s=$(dd if="$disk" bs=512 skip="$i" count=1 2>/dev/null | tr -d '\000')
    [ -z "$s" ] && break
    printf '%s\n' "$s"
    i=$((i + 1))
  done
}

while IFS= read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  case "$line" in
    PING) echo PONG ;;
    "ECHO "*) printf '%s\n' "${line#ECHO }" ;;
    "POST "*)
      text="${line#POST }"
      if [ ! -b "$disk" ]; then
        echo "ERR $disk is not a block device (the virtio disk did not appear)"
      elif [ "${#text}" -gt 500 ]; then
        echo "ERR post longer than 500 bytes"
      else
        n=$(($(wc -l < "$posts") + 1))
        if printf '%s\n' "$text" | dd of="$disk" bs=512 seek="$n" count=1 conv=sync,notrunc,fsync 2>/dev/null; then
          printf '%s\n' "$text" >> "$posts"
          echo "OK $n"
        else
          echo "ERR disk write failed"
        fi
      fi
      ;;
    LIST) cat "$posts" ;;
    DISK) if [ -b "$disk" ]; then read_disk; else echo "ERR $disk is not a block device"; fi ;;
    COUNT) wc -l < "$posts" ;;
    "") continue ;;
    *) echo "ERR unknown command" ;;
  esac
  echo END
done
