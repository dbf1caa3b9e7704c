#!/usr/bin/env bats
# run.sh: skips are reported apart from passes, and a skipped test fails the run unless its
# reason is an optional one (the bot binary not built).

@test "run.sh: a required test that skips fails the run; an optional skip is reported only" {
  d="$BATS_TEST_TMPDIR"
  printf '@test "a" { true; }\n@test "b" { skip "logrotate is not installed"; }\n' >"$d/required.bats"
  printf '@test "a" { true; }\n@test "c" { skip "toogoodtogo-bot binary is not built"; }\n' >"$d/optional.bats"
  run "$BATS_TEST_DIRNAME/run.sh" "$d/required.bats"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"# required test skipped (counted as failed): $d/required.bats: 2 b # skip logrotate is not installed"* ]]
  [[ "$output" == *"1 passed, 1 skipped, 1 failed" ]]
  run "$BATS_TEST_DIRNAME/run.sh" "$d/optional.bats"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"1 passed, 1 skipped, 0 failed" ]]
}
