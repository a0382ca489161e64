#!/usr/bin/env bash
# Debian packages the test suite drives for real: Chromium (Playwright tests), Prometheus Alertmanager, and the
# redis-server binary (the fault drills start private Redis servers they can kill and restart).
# Installs what is missing when we may (root with apt-get); otherwise says what to install.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium chromium-driver)
[ -x /usr/bin/prometheus-alertmanager ] || need+=(prometheus-alertmanager)
command -v redis-server >/dev/null || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]} from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "missing Debian packages: ${need[*]} (sudo apt-get install ${need[*]}); their tests will not run" >&2
fi
