"""Standard-library client helpers shared by the `vkbert serve` tests
(serve_test.py, serve_multi_test.py): a server on a free loopback port and
one-request calls that return (status, parsed JSON or text)."""
import http.client
import json
import os
import random
import re
import signal
import subprocess
import time


class Server:
    """`BIN serve --model MODEL --device DEVICE --port 0 ARGS...`, its stderr in TMP."""

    def __init__(self, binary, model, device, tmp, *args, env=None):
        self.log = os.path.join(tmp, "server%d.log" % random.randrange(1 << 30))
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen([binary, "serve", "--model", model, "--device", device, "--port", "0"] + list(args),
                                  stdout=subprocess.DEVNULL, stderr=open(self.log, "w"), env=e)
        self.port = None
        t0 = time.time()
        while time.time() - t0 < 120:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(self.log).read())
            if m:
                self.port = int(m.group(1))
                break
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        if not self.port:
            raise RuntimeError("server did not start: " + open(self.log).read())

    def conn(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def stop(self, sig=signal.SIGTERM, timeout=120):
        self.p.send_signal(sig)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None

    def stderr(self):
        return open(self.log).read()


def call(c, method, path, body=None):
    """-> (status, parsed JSON or text); a body that is not bytes/str is sent as JSON"""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body is not None else {})
    r = c.getresponse()
    data = r.read().decode()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, data


def once(srv, method, path, body=None):
    c = srv.conn()
    try:
        return call(c, method, path, body)
    finally:
        c.close()
