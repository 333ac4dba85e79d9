"""Every operation that keyward and Unkey's official Python SDK, unkey.py
0.10.0 (the last release for v1), share, called through the SDK against a
keyward at KEYWARD_URL with the root key ROOT_KEY. Exits non-zero on the
first failure; prints one line per operation. Run by
tests/it/unkey/official_python_sdk.rs."""

import base64
import hashlib
import os
import sys

from unkey_py import Unkey

sdk = Unkey(bearer_auth=os.environ["ROOT_KEY"], server_url=os.environ["KEYWARD_URL"])


def check(operation, condition, detail=""):
    if not condition:
        sys.exit(f"{operation}: {detail}")
    print(f"ok {operation}")


created_api = sdk.apis.create(request={"name": "python-sdk"})
api_id = created_api.object.api_id
check("apis.create", api_id.startswith("api_"), api_id)

api = sdk.apis.get(api_id=api_id)
check("apis.get", api.object.name == "python-sdk", api.object)

created = sdk.keys.create(
    request={
        "api_id": api_id,
        "prefix": "py",
        "name": "sdk key",
        "owner_id": "user_1",
        "meta": {"plan": "pro"},
        "remaining": 10,
        "ratelimit": {"type": "fast", "limit": 5, "refill_rate": 1, "refill_interval": 1000},
    }
)
key_id, key = created.object.key_id, created.object.key
check("keys.create", key.startswith("py_"), key)

fetched = sdk.keys.get(key_id=key_id)
check("keys.get", fetched.key.owner_id == "user_1" and fetched.key.remaining == 10, fetched.key)

sdk.keys.update(request={"key_id": key_id, "name": "renamed", "enabled": True})
check("keys.update", sdk.keys.get(key_id=key_id).key.name == "renamed")

remaining = sdk.keys.update_remaining(request={"key_id": key_id, "op": "set", "value": 3})
check("keys.update_remaining", remaining.object.remaining == 3, remaining.object)

verified = sdk.keys.verify(request={"key": key, "api_id": api_id})
body = verified.v1_keys_verify_key_response
check(
    "keys.verify (valid)",
    body.valid and body.code.value == "VALID" and body.request_id.startswith("req_")
    and body.remaining == 2 and body.key_id == key_id,
    body,
)
denied = sdk.keys.verify(request={"key": "py_not_a_key"}).v1_keys_verify_key_response
check("keys.verify (invalid)", not denied.valid and denied.code.value == "NOT_FOUND", denied)

plaintext = "py_imported_from_elsewhere"
digest = base64.b64encode(hashlib.sha256(plaintext.encode()).digest()).decode()
imported = sdk.migrations.create_keys(
    request=[{
        "api_id": api_id,
        "hash": {"value": digest, "variant": "sha256_base64"},
        "start": plaintext[:7],
        "ratelimit": {"limit": 5, "refill_rate": 1, "refill_interval": 1000},
    }]
)
imported_id = imported.object.key_ids[0]
migrated = sdk.keys.verify(request={"key": plaintext}).v1_keys_verify_key_response
check("migrations.create_keys", migrated.valid and migrated.key_id == imported_id, migrated)

verifications = sdk.keys.get_verifications(request={"key_id": key_id})
counts = verifications.object.verifications
check("keys.get_verifications", sum(v.success for v in counts) == 1, counts)

listed = sdk.apis.list_keys(request={"api_id": api_id})
check(
    "apis.list_keys",
    sorted(k.id for k in listed.object.keys) == sorted([key_id, imported_id]),
    listed.object,
)

limited = sdk.ratelimits.limit(request={"identifier": "user_1", "limit": 1, "duration": 60000})
again = sdk.ratelimits.limit(request={"identifier": "user_1", "limit": 1, "duration": 60000})
check("ratelimits.limit", limited.object.success and not again.object.success, again.object)

sdk.keys.delete(request={"key_id": key_id})
gone = sdk.keys.verify(request={"key": key}).v1_keys_verify_key_response
check("keys.delete", gone.code.value == "NOT_FOUND", gone)

sdk.apis.delete(request={"api_id": api_id})
try:
    sdk.apis.get(api_id=api_id)
    check("apis.delete", False, "the api is still there")
except Exception as error:  # the SDK raises ErrNotFound
    check("apis.delete", type(error).__name__ == "ErrNotFound", repr(error))

print("all operations passed")
