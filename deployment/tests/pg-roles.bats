#!/usr/bin/env bats
# lib/pg-roles.sh against the real local PostgreSQL: the two-role password rotation the operator's
# managed database uses. Passwords are checked against the stored SCRAM verifiers (the local
# server trusts every connection, so a login would prove nothing).

load helpers

setup() {
  new_stack
  create_db
  OWNER="tgtg_owner_${RANDOM}${RANDOM}"
  export OWNER
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE ROLE $OWNER LOGIN" \
    -c "ALTER DATABASE $TEST_DB OWNER TO $OWNER"
  psql -X -q -v ON_ERROR_STOP=1 -d "$TEST_DB" -c "ALTER TABLE listings OWNER TO $OWNER" \
    -c "ALTER TABLE orders OWNER TO $OWNER" -c "ALTER SEQUENCE orders_id_seq OWNER TO $OWNER"
  # shellcheck source=../scripts/lib/pg-roles.sh
  . "$SCRIPTS/lib/pg-roles.sh"
}

teardown() {
  drop_db
  for role in "${OWNER}_blue" "${OWNER}_green" "$OWNER"; do
    psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
  done
}

verifier() { psql -X -tA -d postgres -c "SELECT rolpassword FROM pg_authid WHERE rolname = '$1'"; }
password_is() { python3 "$TESTS_DIR/scram_check.py" "$(verifier "$1")" "$2"; }
# as ROLE: run SQL in the test database, the way the bot's connection would
as_role() { psql -X -tA -v ON_ERROR_STOP=1 -U "$1" -d "$TEST_DB" -c "$2"; }

@test "a login role acts as the owner: same rights, and what it creates belongs to the owner" {
  run pgr_prepare_login "$OWNER" "${OWNER}_blue" 'first-pass'
  [ "$status" -eq 0 ]
  password_is "${OWNER}_blue" 'first-pass'
  [ "$(as_role "${OWNER}_blue" 'SELECT count(*) FROM listings')" = 50 ]
  as_role "${OWNER}_blue" 'CREATE TABLE made_by_blue (id int)'
  as_role "${OWNER}_blue" 'INSERT INTO orders (listing_id, qty) VALUES (1, 1)'
  [ "$(as_role postgres "SELECT tableowner FROM pg_tables WHERE tablename = 'made_by_blue'")" = "$OWNER" ]
  # the other role of the pair has the same rights on what blue created
  pgr_prepare_login "$OWNER" "$(pgr_other "${OWNER}_blue")" 'second-pass'
  as_role "${OWNER}_green" 'INSERT INTO made_by_blue VALUES (1)'
  as_role "${OWNER}_green" 'DROP TABLE made_by_blue'
}

@test "a rotation: both passwords valid while the pods roll, then the old one is retired" {
  pgr_prepare_login "$OWNER" "${OWNER}_blue" 'blue-1'
  # a pod of the old generation holds an open session as blue
  coproc OLD { psql -X -tA -U "${OWNER}_blue" -d "$TEST_DB"; }
  echo "SELECT 'open';" >&"${OLD[1]}"
  read -r -t 10 line <&"${OLD[0]}"
  [ "$line" = open ]

  # 1. the idle role gets a new password: blue still valid
  run pgr_prepare_login "$OWNER" "$(pgr_other "${OWNER}_blue")" 'green-1'
  [ "$status" -eq 0 ]
  password_is "${OWNER}_blue" 'blue-1'
  password_is "${OWNER}_green" 'green-1'
  # 2. (the Secret switches to green and the bot rolls) 3. blue is retired
  run pgr_set_password "${OWNER}_blue" 'retired-random'
  [ "$status" -eq 0 ]
  run password_is "${OWNER}_blue" 'blue-1'
  [ "$status" -ne 0 ]
  password_is "${OWNER}_green" 'green-1'
  # the old session still works until its pod ends
  echo "SELECT count(*) FROM listings;" >&"${OLD[1]}"
  read -r -t 10 line <&"${OLD[0]}"
  [ "$line" = 50 ]
  echo '\q' >&"${OLD[1]}"
  wait "$OLD_PID" || true
  # the next rotation goes back to blue
  [ "$(pgr_other "${OWNER}_green")" = "${OWNER}_blue" ]
}

@test "a password with quotes and backslashes is stored as given and never reaches a command line" {
  tricky="it's a \\'pass'; DROP ROLE postgres; --"
  run pgr_prepare_login "$OWNER" "${OWNER}_blue" "$tricky"
  [ "$status" -eq 0 ]
  password_is "${OWNER}_blue" "$tricky"
  [ -n "$(psql -X -tA -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'postgres'")" ]
}

@test "role names are checked before any SQL runs" {
  run pgr_prepare_login "$OWNER" 'bad"name' 'x'
  [ "$status" -eq 64 ]
  run pgr_set_password 'Robert"); DROP' 'x'
  [ "$status" -eq 64 ]
  run pgr_other "$OWNER"
  [ "$status" -eq 1 ]
}
