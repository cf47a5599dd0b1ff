#!/bin/sh
# keepalived's track_script for a socksalp appliance of an HA pair (issue 16), as
# `socksalp keepalived` names it: exits 0 while the appliance on control socket $1 answers
# that it serves its role (the question `socksalp ctl health` asks), 1 otherwise: no
# appliance there, no answer within a second, or a failing one (stopping, or a master that
# does not serve). A shell and socat rather than the CLI, since keepalived runs it every
# second on each appliance and a node process costs about a tenth of a second of CPU.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
answer=$(printf '{"cmd":"health"}\n' | timeout 1 socat -t 1 - "UNIX-CONNECT:$1" 2>/dev/null) || exit 1
case $answer in
  *'"health":{"ok":true'*) exit 0 ;;
esac
exit 1
