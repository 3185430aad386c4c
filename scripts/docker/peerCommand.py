"""One command from a test peer, and its reply, inside the patchbay-peers container.

`npm run test:docker` pipes this file into `docker exec -i <peer> python3 - MODE ID`: MODE is
`tracim` (a TracimDaemon SDK-style client registers with the master socket in the volume and
sends a patchbay_command) or `domogik` (a bus client sends client.cmd to the plugin's worker
service). It prints the reply as one JSON line and exits 0, or says what it waited for and
exits 1 after 30 s.
"""
import json
import subprocess
import sys
import threading

mode, command_id = sys.argv[1], sys.argv[2]
DEADLINE_S = 30

if mode == "tracim":
    sock = "/data/tracim/cmd-%s.sock" % command_id
    argv = ["python3", "tracim/client.py", "--master", "/data/tracim/master.sock", "--socket", sock]
    ready = lambda line: line.get("ev") == "ready"
    first = {"cmd": "send", "msg": {"path": sock, "type": "patchbay_command",
                                    "data": {"id": command_id, "device": "thermo1", "channel": "relay", "value": True}}}
    def reply(line):
        msg = line.get("msg") or {}
        return line.get("ev") == "recv" and msg.get("type") == "patchbay_reply" and str((msg.get("data") or {}).get("id")) == command_id
    last = {"cmd": "exit"}
elif mode == "domogik":
    argv = ["python3", "domogik/peer.py", "--ip", "127.0.0.1", "--req-rep", "40410", "--pub", "40411", "--sub", "40412"]
    ready = lambda line: True
    # The embedded default maps thermo1.relay to Domogik command 4; the service is plugin-<name>.<hostname>.
    first = {"op": "request", "id": command_id, "service": "plugin-patchbay.patchbay", "action": "client.cmd",
             "data": {"command_id": 4, "value": "1"}, "timeout": 20}
    reply = lambda line: line.get("id") == command_id and line.get("event") in ("reply", "timeout")
    last = {"op": "exit"}
else:
    sys.exit("peerCommand.py: unknown mode %r (tracim or domogik)" % mode)

child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
# The deadline holds even if the peer prints nothing at all (daemon: it must not keep us waiting).
deadline = threading.Timer(DEADLINE_S, child.kill)
deadline.daemon = True
deadline.start()


def send(obj):
    child.stdin.write(json.dumps(obj) + "\n")
    child.stdin.flush()


sent = False
if ready({}):
    send(first)
    sent = True
for raw in child.stdout:
    try:
        line = json.loads(raw)
    except ValueError:
        continue
    if not sent and ready(line):
        send(first)
        sent = True
    elif sent and reply(line):
        print(json.dumps(line))
        deadline.cancel()
        send(last)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
        sys.exit(0)
print("peerCommand.py: %s: no reply to command %s within %d s (sent: %s)" % (mode, command_id, DEADLINE_S, sent), file=sys.stderr)
sys.exit(1)
