#!/bin/sh
# What a console shows: the dashboard, and when it is quit (q), a login prompt for a root
# shell. After logout systemd starts this again, so the dashboard comes back.
# $1: the getty's terminal (tty1, ttyS0).
tty=${1:-tty1}
# A serial line tells no size: assume the classic 80x24 unless one was set.
case "$(stty size 2>/dev/null)" in
  ""|"0 0") stty rows 24 cols 80 2>/dev/null ;;
esac
/usr/local/bin/socksalp dash --config /etc/socksalp
printf '\nsocksalp: the dashboard is closed; log in for a shell (logout brings it back).\n'
exec /sbin/agetty --noclear -o '-p -- \u' --keep-baud 115200,57600,38400,9600 - "${TERM:-vt220}"
