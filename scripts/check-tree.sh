#!/usr/bin/env bash
# Checks what git tracks: no build output (compiled libraries, addons, wheels, archives,
# object files) and no file larger than 1 MB. Run from anywhere: ./scripts/check-tree.sh
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
artifacts=$(git ls-files | grep -E '\.(so|dylib|dll|pyd|node|whl|tgz|tar\.gz|jar|aar|class|o|a|rlib|exe)$' || true)
if [ -n "$artifacts" ]; then
  echo "tracked build outputs (remove them with git rm --cached and let .gitignore keep them out):"
  echo "$artifacts" | sed 's/^/  /'
  status=1
fi
# Sizes of the blobs git stores (not of the work tree), so a file deleted or edited locally
# is still judged by what would be committed.
large=$(git ls-files -s | awk '{ print $2 " " $4 }' \
  | git cat-file --batch-check='%(objectsize) %(rest)' \
  | awk '$1 > 1048576 { print "  " $2 " (" $1 " bytes)" }')
if [ -n "$large" ]; then
  echo "tracked files larger than 1 MB:"
  echo "$large"
  status=1
fi
if [ "$status" = 0 ]; then
  echo "tree: no build outputs, no file over 1 MB ($(git ls-files | wc -l) files)"
fi
exit "$status"
