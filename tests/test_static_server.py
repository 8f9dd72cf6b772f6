import httpx

from ingest.static_server import StaticServer


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
