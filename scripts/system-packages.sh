#!/usr/bin/env bash
# Debian packages Lagebild uses at run time: chromium (PDF printing, browser tests; never a
# downloaded browser), chromium-driver, poppler-utils (PDF page checks in tests), fonts.
# Installed automatically where we run as root on Debian (as CI does); otherwise we say how.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installiere Systempakete: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  (apt-get install -y -qq "${need[@]}" >/dev/null 2>&1) || \
    (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${need[@]}" >/dev/null 2>&1) || {
      echo "Fehler: apt-get konnte ${need[*]} nicht installieren." >&2; exit 1; }
else
  echo "Hinweis: Es fehlen Systempakete für PDF-Berichte und Browser-Tests." >&2
  echo "  sudo apt-get install ${need[*]}" >&2
fi
