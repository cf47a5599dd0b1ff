#!/bin/sh
# keepalived's ExecStartPre and ExecReload in the HA pair's images (image/keepalived.service.d):
# /etc/keepalived/keepalived.conf written again from /etc/socksalp (ha.ini [vrrp]) by
# `socksalp keepalived`, so that an edit of ha.ini applies at keepalived's next restart or
# reload. Written beside and renamed: a refused ha.ini (socksalp's message names file and key)
# fails keepalived's start and leaves the last good file as it was.
conf=/etc/keepalived/keepalived.conf
/usr/local/bin/socksalp keepalived --config /etc/socksalp >"$conf.new" || { rm -f "$conf.new"; exit 1; }
mv "$conf.new" "$conf"
