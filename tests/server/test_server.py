"""The Flask app serves the built page with isolation headers, and errors as JSON."""
import pytest

from fl import create_app


@pytest.fixture()
def dist(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "ort.wasm").write_bytes(b"\0asm")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "encoder.onnx").write_bytes(b"onnx")
    return tmp_path


@pytest.fixture()
def client(dist):
    return create_app({"DIST_DIR": str(dist), "TESTING": True}).test_client()


def test_health_answers(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_every_response_is_cross_origin_isolated(client):
    for path in ["/", "/api/health", "/model/encoder.onnx", "/missing"]:
        headers = client.get(path).headers
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin", path
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp", path


def test_index_and_files_are_served_with_their_types(client):
    assert b"<title>t</title>" in client.get("/").data
    wasm = client.get("/assets/ort.wasm")
    assert wasm.status_code == 200
    assert wasm.mimetype == "application/wasm"
    assert "immutable" in wasm.headers["Cache-Control"]
    model = client.get("/model/encoder.onnx")
    assert model.data == b"onnx"
    assert model.mimetype == "application/octet-stream"


def test_missing_file_is_a_json_404_not_the_page(client):
    response = client.get("/model/tokenizer.json")
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"] == "not_found"
    assert "tokenizer.json" in body["detail"]


def test_unknown_api_route_is_json(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert set(response.get_json()) == {"error", "detail"}


def test_path_traversal_is_refused(client, dist):
    (dist.parent / "secret.txt").write_text("secret")
    response = client.get("/../secret.txt")
    assert response.status_code == 404
    assert b"secret" not in response.data


def test_unbuilt_page_says_how_to_build(tmp_path):
    client = create_app({"DIST_DIR": str(tmp_path / "none")}).test_client()
    response = client.get("/")
    assert response.status_code == 503
    assert "make build" in response.get_json()["detail"]


def test_files_go_out_in_large_blocks_unless_the_server_has_its_own_wrapper(dist):
    from fl.static import FILE_BLOCK

    data = bytes(range(256)) * (3 * FILE_BLOCK // 256 + 7)
    (dist / "model" / "encoder.onnx").write_bytes(data)
    client = create_app({"DIST_DIR": str(dist), "TESTING": True}).test_client()
    response = client.get("/model/encoder.onnx", buffered=False)
    blocks = [len(block) for block in response.response]
    assert blocks == [FILE_BLOCK, FILE_BLOCK, FILE_BLOCK, len(data) - 3 * FILE_BLOCK]
    response.close()
    assert client.get("/model/encoder.onnx").data == data

    used = []

    def servers_own(file, block_size=8192):
        used.append(block_size)
        return iter(lambda: file.read(block_size), b"")

    response = client.get("/model/encoder.onnx",
                          environ_overrides={"wsgi.file_wrapper": servers_own})
    assert response.data == data and used == [8192]
