#!/usr/bin/env bash
# Runs a command (the test suite, `make test`) with TMPDIR in a private folder in RAM
# (/dev/shm, tmpfs) where the machine has one with room. The tests write and sync their
# workspaces, DuckDB and SQLite files and Chromium's profile thousands of times; on tmpfs a
# sync is free and nothing waits for the disk (four test files side by side: 86 s -> 80 s,
# docs/performance-notes.md, thirty-fourth session). Without /dev/shm, or with less than
# 6 GB free there, the command runs as it is. The folder is removed afterwards; after a
# failure it is kept for a look, and its path is printed.
set -u
ram=/dev/shm
need_kb=$((6 * 1024 * 1024))
tmp=""
free_kb=$(df -Pk "$ram" 2>/dev/null | awk 'NR == 2 {print $4}')
if [ -d "$ram" ] && [ -w "$ram" ] && [ "${free_kb:-0}" -ge "$need_kb" ]; then
  tmp=$(mktemp -d "$ram/lagebild-tests.XXXXXX" 2>/dev/null) || tmp=""
fi
[ -n "$tmp" ] || exec "$@"
trap 'rm -rf "$tmp"; exit 143' TERM HUP
export TMPDIR="$tmp"
"$@"
rc=$?
if [ "$rc" -eq 0 ]; then
  rm -rf "$tmp"
else
  echo "Temporäre Testdaten (im Arbeitsspeicher) bleiben in $tmp – löschen mit: rm -rf $tmp" >&2
fi
exit "$rc"
