#!/usr/bin/env bash
# Kill test at scale: SIGKILL training, --resume, data prepare and registry updates at random moments, N times
# (default 60), then resume every unfinished run; see tests/RecAlign.Tests/Cli/KillTests.cs for what is checked.
# Usage: bash bench/kill-test.sh [KILLS] [SEED]   (after dotnet build RecAlign.slnx -c Release)
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-60}
seed=${2:-20261202}
out=$(mktemp)
RECALIGN_KILLS=$kills RECALIGN_KILL_SEED=$seed dotnet test RecAlign.slnx -c Release --no-build \
  --filter "FullyQualifiedName~KillTests" --logger "console;verbosity=detailed" 2>&1 | tee "$out" | grep -E "kill test:|Passed |Failed " || true
line=$(grep -o "kill test: .*" "$out" | tail -1 || true)
status=$(grep -qE "^\s+Passed RecAlign.Tests.Cli.KillTests" "$out" && echo passed || echo failed)
printf '{"bench": "kill-test", "kills_requested": %s, "seed": %s, "status": "%s", "result": "%s", "machine": "%s cores"}\n' \
  "$kills" "$seed" "$status" "${line//\"/\'}" "$(nproc)"
[ "$status" = passed ]
