#!/usr/bin/python3
"""A Domogik stand-in on Debian's python3-zmq, driven by JSON lines on stdin, reporting JSON
lines on stdout (one object per line, each with an "event" key).

It plays the Domogik parts the gateway meets on the bus (protocols/domogik.md):
  * xplgw / admin as an MDP *client*: one fresh REQ socket per request, like MQSyncReq (5.2, 5.3)
  * a subscriber like MQAsyncSub: prefix subscriptions, exact category match after parsing (4.3)
  * admin / dbmgr as an MDP *worker*: DEALER, READY, 1 s heartbeats, liveness 3, reconnect (5.4-5.6)
  * a publisher (PUB connected to the forwarder's pub port)

Usage: peer.py --ip 127.0.0.1 --req-rep 40410 --pub 40411 --sub 40412
Commands (stdin):
  {"op": "request", "id": "r1", "service": "plugin-x.h", "action": "client.cmd", "data": {...},
   "timeout": 10, "timeoutFrame": "10"}     -> {"event": "reply", "id", "frames", "action", "data"} | {"event": "timeout", "id"}
  {"op": "raw", "id": "r2", "frames": ["MDPC01", "mmi.service", "admin"], "timeout": 5}  (frames as text, or {"hex": ".."})
  {"op": "subscribe", "categories": ["plugin.status", "client.sensor"]}   -> {"event": "subscribed"}, then {"event": "pub", ...}
  {"op": "publish", "category": "device.update", "data": {...}} or {"op": "publish", "frames": [...]}
  {"op": "worker", "service": "admin", "config": {...}, "devices": [...], "delay": 0}  -> {"event": "request", ...} per request
  {"op": "dealer", "id": "d1", "frames": [...], "timeout": 1.5}  -> {"event": "dealer-done", "received": [...]}
  {"op": "exit"}
"""
import argparse
import json
import sys
import threading
import time

import zmq

MDPC = b"MDPC01"
MDPW = b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"

out_lock = threading.Lock()


def emit(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def text(frame):
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": frame.hex()}


def to_frame(item):
    if isinstance(item, dict) and "hex" in item:
        return bytes.fromhex(item["hex"])
    if isinstance(item, (dict, list)):
        return json.dumps(item).encode()
    return str(item).encode()


def msg_id(category):
    # Python 3 prints the float with a '.', Domogik replaces it with '_' (4.2)
    return "%s.%s.0_1" % (category, str(time.time()).replace(".", "_"))


class Peer:
    def __init__(self, args):
        self.ctx = zmq.Context()
        self.args = args
        self.req_rep = "tcp://%s:%d" % (args.ip, args.req_rep)
        self.pub_ep = "tcp://%s:%d" % (args.ip, args.pub)
        self.sub_ep = "tcp://%s:%d" % (args.ip, args.sub)
        self.pub = None
        self.stop = threading.Event()

    # ---- client role: a fresh REQ socket per request, closed after reply or timeout (5.3)
    def request(self, cmd):
        frames = cmd.get("frames")
        if frames is None:
            frames = [MDPC, cmd["service"].encode()]
            tf = cmd["timeoutFrame"] if "timeoutFrame" in cmd else cmd.get("timeout", 10)
            if tf is not None:
                frames.append(str(tf).encode())
            frames += [cmd["action"].encode(), json.dumps(cmd.get("data", {})).encode()]
        else:
            frames = [to_frame(f) for f in frames]
        sock = self.ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.req_rep)
        sock.send_multipart(frames)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        started = time.time()
        if poller.poll(float(cmd.get("timeout", 10)) * 1000):
            reply = sock.recv_multipart()
            ev = {"event": "reply", "id": cmd.get("id"), "frames": [text(f) for f in reply], "ms": (time.time() - started) * 1000}
            if len(reply) >= 4:
                ev["action"] = text(reply[2])
                try:
                    ev["data"] = json.loads(reply[3])
                except ValueError:
                    ev["data"] = None
            emit(ev)
        else:
            emit({"event": "timeout", "id": cmd.get("id")})
        sock.close()

    # ---- raw DEALER: sends frames as given (malformed-input tests), reports what comes back
    def dealer(self, cmd):
        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.req_rep)
        sock.send_multipart([to_frame(f) for f in cmd["frames"]])
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        got = []
        deadline = time.time() + float(cmd.get("timeout", 1.5))
        while time.time() < deadline:
            if poller.poll(100):
                got.append([text(f) for f in sock.recv_multipart()])
        emit({"event": "dealer-done", "id": cmd.get("id"), "received": got})
        sock.close()

    # ---- subscriber role, like MQAsyncSub (4.3)
    def subscribe(self, cmd):
        categories = cmd.get("categories", [])
        sock = self.ctx.socket(zmq.SUB)
        sock.connect(self.sub_ep)
        if not categories:
            sock.setsockopt(zmq.SUBSCRIBE, b"")
        for c in categories:
            sock.setsockopt(zmq.SUBSCRIBE, c.encode())
        emit({"event": "subscribed", "categories": categories})
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        while not self.stop.is_set():
            if not poller.poll(200):
                continue
            frames = sock.recv_multipart()
            if len(frames) < 2:
                continue
            parts = frames[0].decode("ascii", "replace").split(".")
            if len(parts) < 3:
                continue
            category = ".".join(parts[:-2])
            if categories and category not in categories:
                continue
            try:
                data = json.loads(frames[1])
            except ValueError:
                continue
            emit({"event": "pub", "category": category, "id": frames[0].decode("ascii", "replace"), "frames": len(frames), "data": data})
        sock.close()

    # ---- publisher role
    def publish(self, cmd):
        if self.pub is None:
            self.pub = self.ctx.socket(zmq.PUB)
            self.pub.setsockopt(zmq.LINGER, 0)
            self.pub.connect(self.pub_ep)
            time.sleep(0.3)  # slow joiner (4.4): this is the peer, not the test
        if "frames" in cmd:
            self.pub.send_multipart([to_frame(f) for f in cmd["frames"]])
        else:
            self.pub.send_multipart([msg_id(cmd["category"]).encode(), json.dumps(cmd.get("data", {})).encode()])
        emit({"event": "published", "id": cmd.get("id")})

    # ---- worker role, like MQRep answering as admin (5.4-5.6, 7.4)
    def worker(self, cmd):
        service = cmd["service"].encode()
        liveness_max = 3
        while not self.stop.is_set():
            sock = self.ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(self.req_rep)
            sock.send_multipart([b"", MDPW, READY, service])
            emit({"event": "worker-ready", "service": cmd["service"]})
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            liveness = liveness_max
            next_hb = time.time() + 1
            reconnect = False
            while not self.stop.is_set() and not reconnect:
                if poller.poll(100):
                    frames = sock.recv_multipart()
                    liveness = liveness_max
                    if frames and frames[0] != b"":
                        frames = [b""] + frames  # broker DISCONNECT lacks the delimiter (5.4)
                    if len(frames) < 3 or frames[1] != MDPW:
                        emit({"event": "worker-bad", "frames": [text(f) for f in frames]})
                        continue
                    command = frames[2]
                    if command == REQUEST:
                        rest = frames[3:]
                        i = rest.index(b"")
                        envelope, body = rest[:i], rest[i + 1:]
                        action = body[-2].decode() if len(body) >= 2 else ""
                        try:
                            data = json.loads(body[-1]) if body else {}
                        except ValueError:
                            data = None
                        emit({"event": "request", "service": cmd["service"], "action": action, "data": data, "body": [text(f) for f in body]})
                        if cmd.get("delay"):
                            time.sleep(cmd["delay"])
                        raction, rdata = self.answer(cmd, action, data)
                        sock.send_multipart([b"", MDPW, REPLY] + envelope + [b"", raction.encode(), json.dumps(rdata).encode()])
                    elif command == DISCONNECT:
                        reconnect = True
                if time.time() >= next_hb:
                    next_hb = time.time() + 1
                    sock.send_multipart([b"", MDPW, HEARTBEAT])
                    liveness -= 1
                    if liveness < 0:
                        reconnect = True
            sock.close()
            if reconnect and not self.stop.is_set():
                emit({"event": "worker-reconnect", "service": cmd["service"]})
                time.sleep(1)

    def answer(self, cmd, action, data):
        # What Domogik's admin answers (7.4); keys mirror its replies.
        ident = {k: (data or {}).get(k) for k in ("type", "name", "host")}
        if action == "config.get":
            config = cmd.get("config", {})
            key = (data or {}).get("key")
            if key is None:
                return "config.result", dict(ident, key="*", data=config, status=True, reason="")
            return "config.result", dict(ident, key=key, value=config.get(key, "None"), status=True, reason="")
        if action == "device.get":
            return "device.result", dict(ident, devices=cmd.get("devices", []), status=True, reason="")
        return action + ".result", {"status": False, "reason": "unsupported action"}

    def run(self):
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            cmd = json.loads(line)
            op = cmd.get("op")
            if op == "exit":
                break
            if op == "publish":
                self.publish(cmd)
                continue
            target = {"request": self.request, "raw": self.request, "dealer": self.dealer, "subscribe": self.subscribe, "worker": self.worker}.get(op)
            if target is None:
                emit({"event": "error", "message": "unknown op %r" % op})
                continue
            threading.Thread(target=target, args=(cmd,), daemon=True).start()
        self.stop.set()
        time.sleep(0.3)
        emit({"event": "bye"})


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--ip", default="127.0.0.1")
    p.add_argument("--req-rep", type=int, default=40410)
    p.add_argument("--pub", type=int, default=40411)
    p.add_argument("--sub", type=int, default=40412)
    Peer(p.parse_args()).run()
