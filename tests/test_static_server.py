import httpx

from ingest.sitegen.server import StaticServer


def test_site_server_answers_byte_ranges_so_players_can_seek(tmp_path):
    audio = bytes(range(256)) * 40
    (tmp_path / "a.mp3").write_bytes(audio)
    (tmp_path / "index.html").write_text("<h1>hi</h1>")
    server = StaticServer(tmp_path).start()
    try:
        whole = httpx.get(server.url("/a.mp3"))
        assert whole.status_code == 200 and whole.content == audio
        assert whole.headers["accept-ranges"] == "bytes"
        part = httpx.get(server.url("/a.mp3"), headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206
        assert part.content == audio[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(audio)}"
        tail = httpx.get(server.url("/a.mp3"), headers={"Range": "bytes=-10"})
        assert tail.content == audio[-10:]
        beyond = httpx.get(server.url("/a.mp3"), headers={"Range": f"bytes={len(audio)}-"})
        assert beyond.status_code == 416
        assert "hi" in httpx.get(server.url("/")).text
    finally:
        server.stop()


def test_site_under_a_base_path_answers_with_its_own_404_page(tmp_path):
    (tmp_path / "episodes" / "one").mkdir(parents=True)
    (tmp_path / "episodes" / "one" / "index.html").write_text("<p>episode one</p>")
    (tmp_path / "404.html").write_text("<p>no such page</p>")
    (tmp_path / "secret.txt").write_text("outside the base path is not served")
    server = StaticServer(tmp_path, base_path="/archive/").start()
    try:
        assert server.url("episodes/one/").endswith("/archive/episodes/one/")
        assert "episode one" in httpx.get(server.url("episodes/one/")).text
        moved = httpx.get(server.url("episodes/one"))
        assert moved.status_code == 301 and moved.headers["location"] == "/archive/episodes/one/"
        missing = httpx.get(server.url("no/such/page/"))
        assert missing.status_code == 404 and "no such page" in missing.text
        outside = httpx.get(f"http://{server.host}:{server.port}/secret.txt")
        assert outside.status_code == 404 and "no such page" in outside.text
        escape = httpx.get(server.url("../secret.txt"))
        assert escape.status_code == 404
    finally:
        server.stop()
