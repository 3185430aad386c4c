#!/usr/bin/python3
"""A Modbus slave on Debian's python3-pymodbus (3.0), with a datastore the test controls over
stdin/stdout JSON lines (one object per line).

Usage:
  slave.py --rtu /path/to/pty [--baud 9600] --units 1,2 [--size 200]
  slave.py --tcp 0 --units 1,2          (binds 127.0.0.1; 0 picks a free port, reported as "port")
  slave.py --rtu-over-tcp 0 --units 1,2 (RTU frames over a TCP socket)

Every unit gets four tables (co, di, hr, ir) of --size addresses from 0, so an address at or
past --size is an illegal data address (exception 2), answered by pymodbus itself.

Events (stdout): {"event": "ready", "port": N}  once serving
Commands (stdin), each answered with {"id": ..., "ok": true, ...}:
  {"id": 1, "op": "set", "unit": 1, "table": "hr", "address": 0, "values": [1, 2]}
  {"id": 2, "op": "get", "unit": 1, "table": "co", "address": 3, "count": 1}  -> "values": [...]
  {"id": 3, "op": "exit"}
"""
import argparse
import asyncio
import json
import sys
import threading

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer

# pymodbus' getValues/setValues take the read function code of the table.
TABLES = {"co": 1, "di": 2, "hr": 3, "ir": 4}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def make_context(units, size):
    slaves = {}
    for unit in units:
        slaves[unit] = ModbusSlaveContext(
            co=ModbusSequentialDataBlock(0, [False] * size),
            di=ModbusSequentialDataBlock(0, [False] * size),
            hr=ModbusSequentialDataBlock(0, [0] * size),
            ir=ModbusSequentialDataBlock(0, [0] * size),
            zero_mode=True,
        )
    return ModbusServerContext(slaves=slaves, single=False)


def handle(context, line):
    request = json.loads(line)
    op = request.get("op")
    reply = {"id": request.get("id"), "ok": True}
    if op == "set":
        slave = context[request["unit"]]
        slave.setValues(TABLES[request["table"]], request["address"], request["values"])
    elif op == "get":
        slave = context[request["unit"]]
        values = slave.getValues(TABLES[request["table"]], request["address"], request.get("count", 1))
        reply["values"] = [v if isinstance(v, int) and not isinstance(v, bool) else bool(v) for v in values]
    elif op == "exit":
        emit(reply)
        raise SystemExit(0)
    else:
        reply = {"id": request.get("id"), "ok": False, "error": "unknown op %r" % op}
    emit(reply)


def read_stdin(loop, context, stopped):
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        done = threading.Event()

        def run(text=line):
            try:
                handle(context, text)
            except SystemExit:
                stopped.set()
            except Exception as exc:  # a bad command is the test's bug: say so, keep serving
                emit({"ok": False, "error": repr(exc)})
            finally:
                done.set()

        # The datastore belongs to the event loop's thread.
        loop.call_soon_threadsafe(run)
        done.wait()
        if stopped.is_set():
            break
    loop.call_soon_threadsafe(loop.stop)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rtu")
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--tcp", type=int)
    parser.add_argument("--rtu-over-tcp", type=int, dest="rtu_over_tcp")
    parser.add_argument("--units", default="1")
    parser.add_argument("--size", type=int, default=200)
    args = parser.parse_args()
    units = [int(u) for u in args.units.split(",")]
    context = make_context(units, args.size)
    loop = asyncio.get_running_loop()
    port = None
    if args.rtu:
        server = await StartAsyncSerialServer(
            context=context, framer=ModbusRtuFramer, port=args.rtu, baudrate=args.baud,
            bytesize=8, parity="N", stopbits=1, timeout=0.005, defer_start=True,
        )
        await server.start()
        serving = None
    else:
        tcp_port = args.tcp if args.tcp is not None else args.rtu_over_tcp
        framer = ModbusSocketFramer if args.tcp is not None else ModbusRtuFramer
        server = await StartAsyncTcpServer(
            context=context, framer=framer, address=("127.0.0.1", tcp_port), defer_start=True, allow_reuse_address=True,
        )
        serving = asyncio.ensure_future(server.serve_forever())
        await server.serving
        port = server.server.sockets[0].getsockname()[1]
    emit({"event": "ready", "port": port})
    stopped = threading.Event()
    thread = threading.Thread(target=read_stdin, args=(loop, context, stopped), daemon=True)
    thread.start()
    forever = loop.create_future()
    try:
        await forever
    finally:
        if serving is not None:
            serving.cancel()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except RuntimeError:
        # loop.stop() from the stdin thread ends asyncio.run with "Event loop stopped before
        # Future completed": that is the clean exit of an "exit" command or a closed stdin.
        pass
