"""The peer a team writes by hand: Flask under gunicorn, one SQLite insert per alert, commit per
notification (WAL, synchronous=NORMAL, like selfheal). Used only by bench/intake.sh."""
import json
import os
import sqlite3

from flask import Flask, request

DB = os.environ.get("FLASK_DB", "/tmp/flask-receiver.db")
app = Flask(__name__)
_conn = None


def conn():
    global _conn
    if _conn is None:
        _conn = sqlite3.connect(DB, timeout=30, isolation_level=None)
        _conn.execute("PRAGMA journal_mode=WAL")
        _conn.execute("PRAGMA synchronous=NORMAL")
        _conn.execute(
            "CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, fingerprint TEXT, status TEXT,"
            " starts_at TEXT, labels TEXT, annotations TEXT)"
        )
    return _conn


@app.post("/webhook")
def webhook():
    payload = request.get_json(force=True)
    c = conn()
    c.execute("BEGIN IMMEDIATE")
    for a in payload["alerts"]:
        c.execute(
            "INSERT INTO alerts (fingerprint, status, starts_at, labels, annotations) VALUES (?,?,?,?,?)",
            (a["fingerprint"], a["status"], a["startsAt"], json.dumps(a["labels"]), json.dumps(a["annotations"])),
        )
    c.execute("COMMIT")
    return {"stored": len(payload["alerts"])}
