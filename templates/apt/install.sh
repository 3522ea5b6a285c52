# Installs {{packages}} without questions. Repairs a dpkg run that an earlier interruption
# left half done (a no-op otherwise), and waits while another apt or dpkg holds the lock.
export DEBIAN_FRONTEND=noninteractive
set -e
tries=0
until dpkg --force-confdef --force-confold --configure -a; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then echo "klab: dpkg --configure -a kept failing for 5 minutes" >&2; exit 1; fi
  sleep 5
done
# Package lists klab refreshed within the last hour (for an earlier stage) are fresh enough.
stamp=/var/lib/klab/apt-lists-updated
if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
  tries=0
  until apt-get -q -o DPkg::Lock::Timeout=300 update; do
    tries=$((tries + 1))
    if [ "$tries" -ge 10 ]; then echo "klab: apt-get update kept failing" >&2; exit 1; fi
    sleep 10
  done
  mkdir -p /var/lib/klab && touch "$stamp"
fi
apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  install --no-install-recommends {{packages}}
