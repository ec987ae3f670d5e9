#!/usr/bin/env python3
"""The bare receiver selfheal is measured against: the seed's Flask pattern with the Python
standard library only. On a firing NginxDown alert it starts the same playbook selfheal runs
(ansible-playbook heal-nginx.yml, same inventory) and logs when; it stores nothing, does not
deduplicate (a second notification while a run is going starts another run), and verifies
nothing. Usage: bare_receiver.py PORT LOG_FILE (JSON lines: received, started, finished).
"""
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PORT = int(sys.argv[1])
LOG = open(sys.argv[2], "a", buffering=1)


def log(event, **fields):
    LOG.write(json.dumps({"event": event, "t": time.time(), **fields}) + "\n")


def heal(alert):
    log("started", fingerprint=alert.get("fingerprint"))
    subprocess.run(
        ["ansible-playbook", "-i", "ansible/inventory/local.ini", "ansible/heal-nginx.yml",
         "--limit", alert["labels"].get("host", "localhost")],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3"})
    log("finished", fingerprint=alert.get("fingerprint"))


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        log("received", status=body.get("status"))
        for alert in body.get("alerts", []):
            if alert.get("status") == "firing" and alert["labels"].get("alertname") == "NginxDown":
                threading.Thread(target=heal, args=(alert,), daemon=True).start()
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
