"""A static file server on 127.0.0.1 for /vsicurl/ tests: byte ranges (GDAL
reads rasters by range) and Apache-style "Index of" directory pages (the
listing format GDAL's /vsicurl/ parses; Python's own page is not one)."""
import html
import http.server
import os
import re
import threading
import urllib.parse


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass

    def list_directory(self, path):
        title = "Index of " + urllib.parse.unquote(self.path.split("?")[0])
        rows = []
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            shown = name + ("/" if os.path.isdir(full) else "")
            rows.append(f'<a href="{urllib.parse.quote(shown)}">{html.escape(shown)}</a>'
                        f"  01-Jan-2024 00:00  {os.path.getsize(full)}")
        body = (f"<html><head><title>{html.escape(title)}</title></head><body>"
                f"<h1>{html.escape(title)}</h1><pre>\n" + "\n".join(rows) + "\n</pre></body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None

    def do_GET(self):
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = self.translate_path(self.path)
        if match is None or not os.path.isfile(path):
            return super().do_GET()
        size = os.path.getsize(path)
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        if start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(data)
        return None


class FileServer:
    """Serves `root` on 127.0.0.1 (a free port) until stop()."""

    def __init__(self, root):
        handler = lambda *a, **kw: _Handler(*a, directory=str(root), **kw)  # noqa: E731
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
