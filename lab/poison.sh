#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs ON a lab host: poison OPcache with a crashing version of one file of a release.
#   poison.sh RELEASE_DIR FILE PAGE OTHER_RELEASES(comma-separated) [keep-mtime]
# keep-mtime: the fix lands with the file's old mtime (rsync -a, tar, image layers), so no
# staleness test can see that the cached copy differs from the disk.
set -euo pipefail
release_dir=$1 file=$2 page=$3 others=$4 mode=${5:-}
target="$release_dir/$file"
release=$(basename "$release_dir")
url="http://127.0.0.1/$release/$page"
healthy=$(mktemp)
cp -p "$target" "$healthy"

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$1"; }

# The crashing version: the worker kills itself with SIGSEGV when the file runs.
# OPcache stores the script when it compiles it, before running it, so it is cached.
sed '/^namespace [^;]*;/a \\posix_kill(\\getmypid(), 11);' "$healthy" > "$target"
grep -q posix_kill "$target" || { echo "poison: no namespace line in $target" >&2; exit 1; }
# opcache.file_update_protection (2 s) refuses to cache a file younger than that.
touch -d '-30 seconds' "$target"
first=$(code "$url")
[ "$first" = 502 ] || { echo "poison: crashing version gave HTTP $first, not 502" >&2; cp -p "$healthy" "$target"; exit 1; }

# The fix lands on disk (a deploy): new content, new mtime (or, with keep-mtime, the old
# one). validate_timestamps=0 means OPcache never looks again.
if [ "$mode" = keep-mtime ]; then
    cp -p "$healthy" "$target"
else
    cp "$healthy" "$target"
fi
rm -f "$healthy"
for _ in 1 2 3; do
    c=$(code "$url")
    [ "$c" = 502 ] || { echo "poison: $url gave $c after the fix; the cache did not keep the crash" >&2; exit 1; }
done
IFS=, read -r -a other_list <<< "$others"
for other in "${other_list[@]}"; do
    c=$(code "http://127.0.0.1/$other/$page")
    [ "$c" = 200 ] || { echo "poison: /$other/$page gave $c, expected 200" >&2; exit 1; }
done
echo "poisoned $target: $url answers 502, other releases 200"
