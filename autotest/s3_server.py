"""A real S3 endpoint for the tests and the benchmark: s3rver (an npm
package) on 127.0.0.1, behind a small fault-injecting HTTP proxy of our own.

The proxy forwards every request unchanged (GDAL's request signatures name
the host and port GDAL connected to, and s3rver checks them against the
Host header, which is passed on as is) and can:
  - wait a fixed time before each request is answered (object-store latency);
  - answer 503 SlowDown, drop the connection without a reply, or send a body
    shorter than its Content-Length, for requests matching a method and a
    path pattern, a given number of times;
  - count requests, per method and path, for tests and the benchmark;
  - count the requests in flight at once (the most seen, and the most
    distinct objects among them), for tests of the pool's concurrency.

s3rver is installed with npm into a cache directory outside the source tree
($BATCHWARP_S3RVER_DIR, default ~/.cache/gdal_batchwarp/s3rver-3.7.1) when
it is missing. Used from the command line (bench/, by hand):

    /usr/bin/python3 autotest/s3_server.py [--latency 0.04] [--bucket NAME]...

prints the environment GDAL needs and serves until interrupted.
"""
import argparse
import collections
import http.client
import http.server
import os
import re
import shutil
import signal
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

S3RVER_VERSION = "3.7.1"
ACCESS_KEY = "S3RVER"


class S3rverUnavailable(RuntimeError):
    """Node or npm is missing, or npm could not install s3rver."""


def s3rver_dir():
    default = os.path.join(os.path.expanduser("~"), ".cache", "gdal_batchwarp", f"s3rver-{S3RVER_VERSION}")
    return os.environ.get("BATCHWARP_S3RVER_DIR") or default


def ensure_s3rver():
    """Path of the s3rver program, installed with npm if missing."""
    directory = s3rver_dir()
    program = os.path.join(directory, "node_modules", ".bin", "s3rver")
    if os.path.isfile(program):
        return program
    node, npm = shutil.which("node") or shutil.which("nodejs"), shutil.which("npm")
    if node is None or npm is None:
        raise S3rverUnavailable("node and npm are needed for the S3 test server (scripts/install-deps installs them)")
    os.makedirs(directory, exist_ok=True)
    # An exclusive lock: pytest-xdist workers or a benchmark may ask at once.
    import fcntl

    with open(os.path.join(directory, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isfile(program):
            res = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
                                  "--prefix", directory, f"s3rver@{S3RVER_VERSION}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
            if res.returncode != 0 or not os.path.isfile(program):
                raise S3rverUnavailable(f"npm install s3rver@{S3RVER_VERSION} failed:\n{res.stdout}")
    return program


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"s3rver exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"s3rver did not listen on port {port} within {timeout} s")


###############################################################################
# The proxy


SLOWDOWN_BODY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
                 b"<Message>Please reduce your request rate.</Message></Error>")
STALL_SECONDS = 120
DENIED_BODY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
               b"<Message>Access Denied</Message></Error>")


class Fault:
    """kind: 'slowdown' (503 SlowDown), 'denied' (403 AccessDenied), 'drop'
    (close without a reply), 'truncate' (half of the body, then close) or
    'stall' (no reply for STALL_SECONDS, then close: a connection that went
    dead), for `times` requests whose method is `method` (None: any) and
    whose path matches `path` (a regular expression, searched)."""

    def __init__(self, kind, path=".", method=None, times=1):
        assert kind in ("slowdown", "denied", "drop", "truncate", "stall"), kind
        self.kind, self.path, self.method, self.left = kind, re.compile(path), method, times
        self.hits = 0

    def take(self, method, path):
        if self.left == 0 or (self.method and self.method != method) or not self.path.search(path):
            return False
        self.left -= 1
        self.hits += 1
        return True


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as GDAL expects of S3

    def log_message(self, *args):
        pass

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self):
        proxy = self.server.proxy
        body = self._read_body()
        path = urllib.parse.urlsplit(self.path).path
        fault = proxy.record(self.command, self.path, path)
        proxy.enter(path)
        try:
            self._answer(proxy, body, path, fault)
        finally:
            proxy.leave(path)

    def _answer(self, proxy, body, path, fault):
        if proxy.latency > 0:
            time.sleep(proxy.latency)
        if fault is not None and fault.kind == "stall":
            # Until the client gives up (closes) or STALL_SECONDS pass: a
            # request given up on is no longer in flight.
            deadline = time.monotonic() + STALL_SECONDS
            while time.monotonic() < deadline and not proxy.stopping.is_set():
                if select.select([self.connection], [], [], 0.2)[0]:
                    try:
                        if not self.connection.recv(1, socket.MSG_PEEK):
                            break
                    except OSError:
                        break
            self.close_connection = True
            return
        if fault is not None and fault.kind == "drop":
            # A reset, as a load balancer dropping a connection sends.
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if fault is not None and fault.kind in ("slowdown", "denied"):
            status, reason, reply = ((503, "Slow Down", SLOWDOWN_BODY) if fault.kind == "slowdown" else
                                     (403, "Forbidden", DENIED_BODY))
            self.send_response(status, reason)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply)
            return
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("transfer-encoding", "connection", "proxy-connection")}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        upstream = getattr(self, "_upstream", None)
        for attempt in range(2):
            if upstream is None:
                upstream = self._upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                resp = upstream.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, OSError):
                upstream.close()
                upstream = self._upstream = None
                if attempt == 1:
                    raise
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "keep-alive"):
                self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", resp.getheader("Content-Length") or "0")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if fault is not None and fault.kind == "truncate" and len(data) > 1:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward


class _ThreadingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 (a free port) in front of upstream_port."""

    def __init__(self, upstream_port, latency=0.0):
        self.upstream_port = upstream_port
        self.latency = latency
        self._lock = threading.Lock()
        self._faults = []
        self.requests = []  # (method, path with query, path), in order
        self._in_flight = collections.Counter()  # path -> requests being answered
        self.max_in_flight = 0  # the most requests being answered at once
        self.max_in_flight_paths = 0  # the most distinct paths among them
        self.stopping = threading.Event()  # ends the waits of 'stall' faults
        self._server = _ThreadingServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.proxy = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def record(self, method, full_path, path):
        with self._lock:
            self.requests.append((method, full_path, path))
            for fault in self._faults:
                if fault.take(method, path):
                    return fault
        return None

    def enter(self, path):
        with self._lock:
            self._in_flight[path] += 1
            self.max_in_flight = max(self.max_in_flight, sum(self._in_flight.values()))
            self.max_in_flight_paths = max(self.max_in_flight_paths, len(self._in_flight))

    def leave(self, path):
        with self._lock:
            self._in_flight[path] -= 1
            if self._in_flight[path] <= 0:
                del self._in_flight[path]

    def add_fault(self, kind, path=".", method=None, times=1):
        fault = Fault(kind, path, method, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self):
        with self._lock:
            self._faults = []

    def reset_counts(self):
        with self._lock:
            self.requests = []
            self.max_in_flight = self.max_in_flight_paths = 0

    def counts(self, method=None):
        """Counter of request paths (unquoted), of one method or all."""
        with self._lock:
            return collections.Counter(urllib.parse.unquote(p) for m, _, p in self.requests
                                       if method is None or m == method)

    def stop(self):
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


###############################################################################
# s3rver and the proxy together


class S3Server:
    """s3rver with its own data directory, on a free port, with `buckets`
    created, behind a FaultProxy. `env` is what GDAL needs to reach it."""

    def __init__(self, buckets=("bucket",), latency=0.0, data_dir=None):
        program = ensure_s3rver()
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="s3rver-")
        self.s3rver_port = _free_port()
        argv = [program, "-d", self.data_dir, "-p", str(self.s3rver_port), "-a", "127.0.0.1", "--silent"]
        for bucket in buckets:
            argv += ["--configure-bucket", bucket]
        self._log = tempfile.TemporaryFile()
        # s3rver makes the continuation tokens of ListObjectsV2 pages
        # (list-type=2, which GDAL 3.13 uses) with DES, which OpenSSL 3
        # keeps in its legacy provider: without it, every listing that has a
        # second page fails with InternalError.
        env = dict(os.environ, NODE_OPTIONS=(os.environ.get("NODE_OPTIONS", "") + " --openssl-legacy-provider").strip())
        self._proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True, env=env)
        try:
            _wait_for_port(self.s3rver_port, self._proc)
        except Exception:
            self._kill()
            raise
        self.proxy = FaultProxy(self.s3rver_port, latency)
        self.port = self.proxy.port
        self.endpoint = f"127.0.0.1:{self.port}"
        self.env = {
            "AWS_S3_ENDPOINT": self.endpoint,
            "AWS_HTTPS": "NO",
            "AWS_VIRTUAL_HOSTING": "FALSE",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": ACCESS_KEY,
            "AWS_REGION": "us-east-1",
            # Never a real credentials file or instance metadata service.
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_NO_SIGN_REQUEST": "NO",
        }

    def s3rver_cpu_seconds(self):
        """CPU time s3rver has used so far (all its threads), for the
        benchmark: it runs on the same cores as the tools it serves."""
        with open(f"/proc/{self._proc.pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _kill(self):
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def stop(self):
        self.proxy.stop()
        self._kill()
        self._log.close()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def object_path(self, bucket, key):
        """Where s3rver keeps an object's bytes (its file-system layout)."""
        return os.path.join(self.data_dir, bucket, key + "._S3rver_object")

    def keys(self, bucket, prefix=""):
        """Object keys under a prefix, sorted, as s3rver stores them."""
        root = os.path.join(self.data_dir, bucket)
        out = []
        for dirpath, _, files in os.walk(root):
            for f in files:
                if f.endswith("._S3rver_object"):
                    key = os.path.relpath(os.path.join(dirpath, f[: -len("._S3rver_object")]), root)
                    if key.startswith(prefix):
                        out.append(key)
        return sorted(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--bucket", action="append", help="bucket to create (repeatable; default: bucket)")
    parser.add_argument("--data-dir", help="s3rver's data directory (default: a new temporary one)")
    args = parser.parse_args()
    server = S3Server(args.bucket or ["bucket"], args.latency, args.data_dir)
    for k, v in server.env.items():
        print(f"export {k}={v}")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
