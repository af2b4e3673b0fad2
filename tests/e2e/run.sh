#!/usr/bin/env bash
# Runs every end-to-end test (tests/e2e/test_*.sh) in turn; fails if any fails.
set -u
cd "$(dirname "$0")/../.."
fail=0
for t in tests/e2e/test_*.sh; do
	start=$(date +%s)
	if timeout 600 bash "$t"; then
		echo "  PASS     $t ($(( $(date +%s) - start ))s)"
	else
		echo "  FAIL     $t"
		fail=1
	fi
done
exit $fail
