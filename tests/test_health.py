from dataclasses import replace

from starlette.testclient import TestClient

from shop.app import create_app


def test_health_is_ok_with_the_database_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "writable": True}


def test_health_is_503_without_the_database(settings, tmp_path):
    broken = "postgresql://nobody@127.0.0.1:1/none" if settings.database_url.startswith("postgres") \
        else f"sqlite:///{tmp_path}"  # a directory cannot be opened as a database
    with TestClient(create_app(replace(settings, database_url=broken))) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
