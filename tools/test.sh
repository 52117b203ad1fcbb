#!/usr/bin/env bash
# `npm test`, after `nx run-many -t build`: runs the e2e suites beside the other projects' suites.
# The e2e project is two thirds of the time. Under `nx run-many -t test` it started last (Nx runs
# first the tasks that more projects depend on, and none depends on e2e), after the runtime's and
# containerd's integration suites, which leave the CPU a third idle while they wait on containers.
# Started at once it fills that time (measured: README.md, "Test suite").
# Everything stays in this shell's process group, so `timeout` in .ci/run (or ^C) stops it all.
set -uo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
export NX_DAEMON="${NX_DAEMON:-false}" NX_NO_CLOUD="${NX_NO_CLOUD:-true}" NX_TUI="${NX_TUI:-false}"

# the same prefix Nx gives a project's lines, so a log reads (and tools/test-loop.sh counts) the same
(cd e2e && npm test 2>&1 | sed -u 's|^|@gantry/e2e: |') &
e2e=$!

npx nx run-many -t test --exclude=@gantry/e2e --excludeTaskDependencies --parallel=1 --outputStyle=stream
units=$?
wait "$e2e"
e2e_status=$?

echo "npm test: package suites exit ${units}, e2e suites exit ${e2e_status}"
[ "$units" = 0 ] && [ "$e2e_status" = 0 ]
