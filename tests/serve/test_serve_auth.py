"""API keys: hashed at rest, 401 without a good key, 403 without the scope, open health and docs."""

from __future__ import annotations

import json
import stat

import pytest

from seqintent.errors import ArtifactError, ConfigError
from seqintent.serve import KeyRing, add_key, hash_key, parse_scopes
from tests.service_builders import READ_ONLY, READ_WRITE, WRITE_ONLY, auth

pytest.importorskip("fastapi")


def test_a_key_file_holds_hashes_only(tmp_path):
    path = tmp_path / "keys.json"
    key, info = add_key(path, "write,read", name="dashboard")
    key2, _ = add_key(path, ["read"])
    assert key.startswith("sqi_") and len(key) > 40 and key != key2
    text = path.read_text()
    assert key not in text and key2 not in text
    data = json.loads(text)
    assert data["kind"] == "seqintent.keys" and data["format_version"] == 1
    assert [e["sha256"] for e in data["keys"]] == [hash_key(key), hash_key(key2)]
    assert [e["scopes"] for e in data["keys"]] == [["read", "write"], ["read"]]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = KeyRing.from_file(path)
    assert ring.scopes_of(key) == {"read", "write"}
    assert ring.scopes_of(key2) == {"read"}
    assert ring.lookup(key).name == "dashboard" and ring.lookup(key).id == info.id
    assert ring.scopes_of(key + "x") is None and ring.scopes_of(hash_key(key)) is None


def test_bad_scopes_and_key_files_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"scopes: unknown scope \(got 'raed'\)\n  candidates: 'read'"):
        parse_scopes("raed")
    with pytest.raises(ConfigError, match="give at least one scope"):
        parse_scopes(" , ")
    with pytest.raises(ArtifactError, match=r"key file not found\n  fix: create one: seqintent keys add"):
        KeyRing.from_file(tmp_path / "none.json")
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(ArtifactError, match="not a seqintent key file"):
        KeyRing.from_file(other)
    with pytest.raises(ArtifactError, match="not a seqintent key file"):
        add_key(other, "read")  # never overwrites a file that is not a key file
    assert json.loads(other.read_text()) == {"hello": 1}


def test_env_keys_get_every_scope():
    ring = KeyRing.from_plain(["a-key", " b-key ", ""])
    assert len(ring) == 2
    assert ring.scopes_of("b-key") == {"read", "write"}


def test_refusals(serve):
    client = serve()
    event = {"user_id": "u", "ts": 1_711_900_000_000, "action": "view", "item_id": "g0i1"}
    body = {"events": [event]}
    r = client.post("/v1/events", json=body)
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    assert r.json() == {
        "error": "unauthorized",
        "message": "no API key: send the header 'Authorization: Bearer KEY'",
    }
    r = client.post("/v1/events", json=body, headers=auth("not-a-key"))
    assert (r.status_code, r.json()["message"]) == (401, "unknown API key")
    r = client.post("/v1/events", json=body, headers={"Authorization": f"Basic {READ_WRITE}"})
    assert r.status_code == 401
    r = client.post("/v1/events", json=body, headers=auth(READ_ONLY))
    assert r.status_code == 403
    assert r.json() == {"error": "forbidden", "message": "the key k-r lacks the 'write' scope (it has: read)"}
    for path in ("/v1/users/u/intent", "/v1/users/u/events", "/v1/users/u/recommendations"):
        r = client.get(path, headers=auth(WRITE_ONLY))
        assert (r.status_code, r.json()["error"]) == (403, "forbidden"), path
    r = client.post("/v1/predict", json={"events": [event]}, headers=auth(WRITE_ONLY))
    assert r.status_code == 403
    # a refused request changed nothing; the right keys work
    assert client.post("/v1/events", json=body, headers=auth(WRITE_ONLY)).json()["accepted"] == 1
    assert len(client.get("/v1/users/u/events", headers=auth(READ_ONLY)).json()["events"]) == 1
    # health, metrics and docs need no key
    for path in ("/healthz", "/metrics", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_private_metrics_need_the_read_scope(serve):
    client = serve(public_metrics=False)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth(WRITE_ONLY)).status_code == 403
    assert client.get("/metrics", headers=auth(READ_ONLY)).status_code == 200


def test_an_app_without_keys_is_refused_unless_auth_is_off(exported_plain):
    from seqintent.serve import create_app

    with pytest.raises(ConfigError, match=r"no API keys.*\n  fix: pass --keys KEYFILE"):
        create_app(exported_plain.runtime)
    with pytest.raises(ConfigError, match="no API keys"):
        create_app(exported_plain.runtime, keys=KeyRing({}))
    create_app(exported_plain.runtime, auth=False)
