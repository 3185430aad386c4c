#!/usr/bin/env python3
"""A TracimDaemon client peer that behaves like the Python SDK (tracim_daemon_sdk 1.0.3).

Standard library only. Like the SDK (protocols/tracim.md 7.1) it owns a listening Unix
stream socket with backlog 1, handles one connection at a time (reading at most 4096 bytes
per recv, to EOF), writes json.dumps-style envelopes with "data": null, registers with
daemon_client_add, answers daemon_ping with daemon_pong, dispatches handlers by type and by
the TLM's event_type, and unregisters on exit (twice, as the SDK does from close() and
__del__).

Everything it receives or does is printed as one JSON line on stdout, so a test can await
it. It is driven by JSON lines on stdin:
  {"cmd": "send", "msg": {...}}            send an envelope to the master (or "to")
  {"cmd": "send", "raw": "text"}           send raw text
  {"cmd": "register"} / {"cmd": "unregister"}
  {"cmd": "stop_listening"} / {"cmd": "start_listening"}   go away / come back, no unregistering
  {"cmd": "pong", "on": false}             stop answering pings
  {"cmd": "slow", "ms": 1000}              take this long per message
  {"cmd": "exit"}                          unregister (twice) and exit
"""
import argparse
import json
import os
import select
import signal
import socket
import sys
import threading
import time

out_lock = threading.Lock()


def emit(record):
    line = json.dumps(record)
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Peer:
    def __init__(self, master, path, pid):
        self.master = master
        self.path = path
        self.pid = pid
        self.auto_pong = True
        self.slow_ms = 0
        self.listener = None
        self.listening = False
        self.user_id = 0
        self.handlers = {
            "custom_message": self.on_any,
            "daemon_ping": self.on_ping,
            "daemon_account_info": self.on_account_info,
            "daemon_tracim_event": self.on_tracim_event,
        }

    # --- socket setup, as create_client_socket(): unlink, bind, listen(1)
    def start_listening(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.path)
        s.listen(1)
        s.settimeout(0.05)
        self.listener = s
        self.listening = True
        threading.Thread(target=self.accept_loop, args=(s,), daemon=True).start()
        emit({"ev": "listening", "path": self.path})

    def stop_listening(self):
        self.listening = False
        s = self.listener
        self.listener = None
        if s is not None:
            s.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        emit({"ev": "stopped_listening"})

    def accept_loop(self, s):
        # The kernel may hand a process-directed SIGINT to any thread that does not block it.
        # Python runs its handler only in the main thread, and only once that thread wakes:
        # delivered here, it would leave the main thread asleep in its stdin read, and the
        # KeyboardInterrupt (the unregistering that M25 checks) would never come.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        while self.listening and self.listener is s:
            try:
                conn, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.handle_connection(conn)

    def handle_connection(self, conn):
        conn.settimeout(None)
        chunks = []
        try:
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError as e:
            emit({"ev": "error", "error": "recv: " + str(e)})
        raw = b"".join(chunks)
        # The SDK parses each recv() chunk on its own: a message over 4096 bytes fails there.
        record = {"ev": "recv", "bytes": len(raw), "chunks": len(chunks), "sdk_would_fail": len(chunks) > 1,
                  "raw": raw.decode("utf-8", "replace") if len(raw) <= 65536 else None, "at": time.time()}
        try:
            msg = json.loads(raw.decode("utf-8"))
        except Exception as e:  # noqa: BLE001 - the SDK routes any parse error to custom_error
            record["ev"] = "error"
            record["error"] = "parse: " + str(e)
            emit(record)
            conn.close()
            return
        record["msg"] = msg
        emit(record)
        if self.slow_ms:
            time.sleep(self.slow_ms / 1000.0)
        conn.close()
        self.dispatch(msg)

    def dispatch(self, msg):
        self.handlers["custom_message"](msg)
        t = msg.get("type")
        if t in self.handlers and t != "custom_message":
            self.handlers[t](msg)
        if t == "daemon_tracim_event":
            try:
                tlm = json.loads(msg.get("data"))
                et = tlm["event_type"]
            except Exception as e:  # noqa: BLE001
                emit({"ev": "error", "error": "tlm: " + str(e)})
                return
            emit({"ev": "handler", "key": et, "event_id": tlm.get("event_id")})

    # --- handlers
    def on_any(self, msg):
        emit({"ev": "handler", "key": "custom_message", "type": msg.get("type")})

    def on_ping(self, msg):
        if self.auto_pong:
            self.send({"path": self.path, "type": "daemon_pong", "data": None}, to=msg.get("path"))

    def on_account_info(self, msg):
        data = msg.get("data")
        if msg.get("path") == self.master and isinstance(data, dict):
            self.user_id = data.get("user_id")
        emit({"ev": "handler", "key": "daemon_account_info", "user_id": self.user_id})

    def on_tracim_event(self, msg):
        emit({"ev": "handler", "key": "daemon_tracim_event"})

    # --- sending: one blocking connection, one send, close (register_to_master)
    def send(self, msg=None, to=None, raw=None):
        target = to or self.master
        payload = raw.encode("utf-8") if raw is not None else json.dumps(msg).encode("utf-8")
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(target)
            s.send(payload)
            s.close()
            emit({"ev": "sent", "to": target, "type": (msg or {}).get("type"), "bytes": len(payload)})
        except OSError as e:
            emit({"ev": "error", "error": "send to %s: %s" % (target, e)})

    def register(self):
        self.send({"path": self.path, "type": "daemon_client_add", "data": {"path": self.path, "pid": self.pid}})

    def unregister(self):
        self.send({"path": self.path, "type": "daemon_client_delete", "data": {"path": self.path, "pid": self.pid}})

    def close(self):
        self.unregister()
        self.stop_listening()


def stdin_lines():
    """stdin's lines, read with a bounded wait rather than a read that blocks until input.

    A SIGINT's Python handler (the KeyboardInterrupt that M25 checks) runs only in the main
    thread, at its next bytecode. Blocked in read(), the main thread gets there only if the
    signal interrupts that read; twice in CI (1 run in many) it did not, and the peer sat in
    read() for good. Waking every 200 ms bounds that to 200 ms whichever thread took it.
    """
    fd = sys.stdin.fileno()
    pending = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            if pending:
                yield pending.decode("utf-8")
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield line.decode("utf-8")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--master", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--pid", default=str(os.getpid()))
    parser.add_argument("--no-register", action="store_true")
    parser.add_argument("--no-pong", action="store_true")
    parser.add_argument("--slow-ms", type=int, default=0)
    args = parser.parse_args()
    peer = Peer(args.master, args.socket, args.pid)
    peer.auto_pong = not args.no_pong
    peer.slow_ms = args.slow_ms
    peer.start_listening()
    try:
        if not args.no_register:
            peer.register()
        # Only now is a SIGINT sure to land in this try and unregister (what M25 tests).
        emit({"ev": "ready"})
        for line in stdin_lines():
            line = line.strip()
            if not line:
                continue
            cmd = json.loads(line)
            c = cmd.get("cmd")
            if c == "send":
                peer.send(cmd.get("msg"), to=cmd.get("to"), raw=cmd.get("raw"))
            elif c == "register":
                peer.register()
            elif c == "unregister":
                peer.unregister()
            elif c == "stop_listening":
                peer.stop_listening()
            elif c == "start_listening":
                peer.start_listening()
            elif c == "pong":
                peer.auto_pong = bool(cmd.get("on"))
            elif c == "slow":
                peer.slow_ms = int(cmd.get("ms", 0))
            elif c == "exit":
                break
            emit({"ev": "done", "cmd": c})
    except KeyboardInterrupt:
        pass
    # Like the SDK: close() from the caller's finally, then again from __del__ (6.2).
    peer.close()
    peer.unregister()
    emit({"ev": "exited"})


if __name__ == "__main__":
    main()
