# shellcheck shell=bash
# Password rotation without failed logins: two LOGIN roles take turns.
#
# The database and every object in it belong to one owner role (the bot's role, `toogoodtogo`).
# The bot logs in as one of two login roles, <owner>_blue and <owner>_green. Both are members of
# the owner and start every session as it (`ALTER ROLE ... SET role`), so they have the same
# rights and everything they create belongs to the owner, whichever of them created it.
#
# A rotation:
#   1. pgr_prepare_login OWNER IDLE NEW_PASSWORD   - the role no pod uses gets a new password;
#   2. the bot's Secret switches to IDLE / NEW_PASSWORD and the bot rolls onto it;
#   3. pgr_set_password ACTIVE RANDOM              - the role the old pods used is retired.
# Between 1 and 3 both roles have valid passwords, so an old pod (old role, old password) and a
# new pod (new role, new password) can both open connections: no pod ever holds a password that
# is not valid. Changing a password does not end open sessions.
#
# It runs psql directly (PG* variables; PGR_DB, default postgres), as a role that may create
# roles (the superuser). Passwords reach psql through its environment and SQL as psql variables
# (`:'password'`): never in a command line, and no value can break out of its literal.
# Return codes: 0 ok, 1 failed, 64 bad role name.

pgr__valid_name() {
  [[ "$1" =~ ^[a-z_][a-z0-9_]{0,62}$ ]]
}

pgr__psql() {
  psql -X -q -v ON_ERROR_STOP=1 -d "${PGR_DB:-postgres}" "$@"
}

# pgr_login_roles OWNER: the two login roles of OWNER, blue first.
pgr_login_roles() {
  printf '%s_blue %s_green' "$1" "$1"
}

# pgr_other LOGIN: the other login role of the pair.
pgr_other() {
  case "$1" in
    *_blue) printf '%s_green' "${1%_blue}" ;;
    *_green) printf '%s_blue' "${1%_green}" ;;
    *) return 1 ;;
  esac
}

# pgr_prepare_login OWNER LOGIN PASSWORD: create LOGIN (if missing) as a member of OWNER that
# acts as OWNER, and set its password. Idempotent.
pgr_prepare_login() {
  local owner="$1" login="$2"
  if ! pgr__valid_name "$owner" || ! pgr__valid_name "$login"; then
    printf 'ERROR: invalid role name\n' >&2
    return 64
  fi
  PGR_PASSWORD="$3" pgr__psql -v owner="$owner" -v login="$login" <<'SQL'
\set password `printf '%s' "$PGR_PASSWORD"`
SELECT format('CREATE ROLE %I LOGIN', :'login')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'login') \gexec
ALTER ROLE :"login" WITH LOGIN PASSWORD :'password';
GRANT :"owner" TO :"login";
ALTER ROLE :"login" SET role = :'owner';
SQL
}

# pgr_set_password ROLE PASSWORD: a new password for ROLE (open sessions continue).
pgr_set_password() {
  local role="$1"
  if ! pgr__valid_name "$role"; then
    printf 'ERROR: invalid role name\n' >&2
    return 64
  fi
  PGR_PASSWORD="$2" pgr__psql -v role="$role" <<'SQL'
\set password `printf '%s' "$PGR_PASSWORD"`
ALTER ROLE :"role" WITH PASSWORD :'password';
SQL
}
