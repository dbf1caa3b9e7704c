#!/usr/bin/env python3
"""Exit 0 when PASSWORD matches the SCRAM-SHA-256 verifier of ROLE (read from pg_authid).

Usage: scram_check.py VERIFIER PASSWORD
"""
import base64
import hashlib
import hmac
import sys

verifier, password = sys.argv[1], sys.argv[2]
mech, rest = verifier.split("$", 1)
iter_salt, keys = rest.split("$")
iterations, salt = iter_salt.split(":")
stored_key, _server_key = keys.split(":")
assert mech == "SCRAM-SHA-256", mech
salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
client_key = hmac.new(salted, b"Client Key", "sha256").digest()
computed = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
sys.exit(0 if hmac.compare_digest(computed, stored_key) else 1)
