#!/usr/bin/env bash
# Fails, listing them, when files tracked by git in the current repository are over 1 MB:
# build outputs, databases and test binaries belong in .gitignore, not in the history.
set -euo pipefail
limit=$((1024 * 1024))
big=$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk -v limit="$limit" '$1 > limit' || true)
if [ -n "$big" ]; then
  echo "tracked files over 1 MB (size in bytes, path); remove them from git and ignore them:"
  echo "$big"
  exit 1
fi
