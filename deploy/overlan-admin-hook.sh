#!/bin/sh
# Example session hook for `overlan assist`: a temporary local user for SSH that lives exactly as
# long as the assistance session. Install it, then start the service with
#
#   overlan assist ... --on-session-start '/usr/local/sbin/overlan-admin-hook.sh start' \
#                      --on-session-end   '/usr/local/sbin/overlan-admin-hook.sh end'
#
# The service runs it with, in the environment:
#   OVERLAN_SESSION_ID          the session (e.g. assist-k3j9x0q2m7ab); names the user
#   OVERLAN_EXPIRES_AT          the session's end, ISO 8601 UTC
#   OVERLAN_ADMIN_PASSWORD      (start, only when admin access was asked for) the password the
#                               console and the API showed the owner, to hand to the technician
#   OVERLAN_SESSION_END_REASON  (end) off, expiry, idle, failed (the switch-on did not complete) or lost
#
# What the service guarantees (docs/OPERATIONS.md "Session hooks"): a start that exits non-zero,
# or runs longer than 30 s, switches the session off again, and then the end hook runs; the end
# hook runs at least once for every session that ends, also after a crash and restart, so it may
# run twice, or after a start that did nothing: it must succeed when the user is already gone.
# Anything the hook leaves running in its process group is killed when it exits.
#
# The systemd unit in deploy/ confines the service (CAP_NET_ADMIN only, a read-only /etc): to
# manage users from a hook, give it a drop-in such as deploy/overlan-assist-admin-hook.conf.
# The technician logs in through the overlay: ssh overlan-XXXXXXXX@10.99.0.1 (with --allow tcp/22).
# sshd must accept passwords for these users, e.g. in /etc/ssh/sshd_config:
#   Match User overlan-*
#       PasswordAuthentication yes
set -eu

# one user per session: "overlan-" and the last 8 letters and digits of the session ID
id_part=$(printf '%s' "${OVERLAN_SESSION_ID:?}" | tr -cd 'a-z0-9' | tail -c 8)
user="overlan-$id_part"

case "${1:-}" in
start)
  # no admin access asked for: nothing to grant
  [ -n "${OVERLAN_ADMIN_PASSWORD:-}" ] || exit 0
  # --expiredate is a backstop, by the day: the end hook removes the user when the session ends
  expires=$(date -u -d "${OVERLAN_EXPIRES_AT:?}" +%Y-%m-%d)
  useradd --create-home --shell /bin/bash --expiredate "$expires" --comment "overlan assistance $OVERLAN_SESSION_ID" "$user"
  # the password on stdin, never on a command line (other users can read those in ps)
  printf '%s:%s\n' "$user" "$OVERLAN_ADMIN_PASSWORD" | chpasswd
  # admin rights: uncomment the group your system gives sudo to (sudo on Debian, wheel elsewhere)
  # usermod --append --groups sudo "$user"
  ;;
end)
  # gone already (a second run, or no admin access): done
  id "$user" >/dev/null 2>&1 || exit 0
  # its logins end with the session, then the account and its home
  loginctl terminate-user "$user" 2>/dev/null || true
  userdel --remove "$user"
  ;;
*)
  echo "usage: $0 start|end (run by overlan assist --on-session-start/--on-session-end)" >&2
  exit 2
  ;;
esac
