#!/usr/bin/python3
"""A Teleinfo meter: writes frames of the historic mode (Enedis-NOI-CPT_02E) or the standard
mode (Enedis-NOI-CPT_54E) on a serial port (a pty in tests) at the mode's line settings
(1200 or 9600 baud, 7 data bits, even parity, 1 stop bit), paced at the real rate.
Written from the specifications, sharing nothing with the driver's decoder.

Usage: generator.py --port /path/to/pty --mode historic|standard
Commands on stdin (JSON lines), each answered with {"id": ..., "ok": true} once written:
  {"id": 1, "op": "frames", "count": 2}                  good frames
  {"id": 2, "op": "frames", "set": {"PAPP": "01234"}}    change values first (kept for later frames)
  {"id": 3, "op": "frames", "corrupt": "checksum", "label": "PAPP", "set": {...}}  that group's checksum wrong
  {"id": 4, "op": "frames", "corrupt": "cut", "set": {...}}   the frame stops half-way; the next frame follows
  {"id": 5, "op": "frames", "corrupt": "eot", "set": {...}}   the frame is interrupted by EOT (spec 5.3.5)
  {"id": 6, "op": "frames", "as_read": "8N1"}            the bytes an 8N1 receiver gets from this 7E1 line
  {"id": 7, "op": "frames", "as_read": "9600"}           the bytes a receiver at 9600 baud gets (7E1)
  {"id": 8, "op": "exit"}

A pty carries bytes, not bits: its baud rate and parity are termios settings with no effect
on the data. So a line read with the wrong parity or speed is produced here the way the
receiving UART would decode it: the 7E1 character stream is laid out as bits at the meter's
baud rate and sampled again at the receiver's settings.
"""
import argparse
import json
import sys
import time

import serial

STX, ETX, EOT, LF, CR, SP, HT = 0x02, 0x03, 0x04, 0x0A, 0x0D, 0x20, 0x09

HISTORIC = [
    ("ADCO", "031762120162"),
    ("OPTARIF", "HC.."),
    ("ISOUSC", "45"),
    ("HCHC", "002815440"),
    ("HCHP", "003571120"),
    ("PTEC", "HP.."),
    ("IINST", "008"),
    ("IMAX", "090"),
    ("PAPP", "01800"),
    ("HHPHC", "A"),
    ("MOTDETAT", "000000"),
]

# (label, date or None, value)
STANDARD = [
    ("ADSC", None, "041876097143"),
    ("VTIC", None, "02"),
    ("DATE", "E231202101500", ""),
    ("NGTF", None, "      TEMPO     "),
    ("LTARF", None, "    HP  BLEU    "),
    ("EAST", None, "008101940"),
    ("EASF01", None, "004213610"),
    ("EASF02", None, "003888330"),
    ("EASD01", None, "004213610"),
    ("IRMS1", None, "004"),
    ("URMS1", None, "232"),
    ("PREF", None, "09"),
    ("PCOUP", None, "09"),
    ("SINSTS", None, "00930"),
    ("SMAXSN", "E231202063200", "02580"),
    ("SMAXSN-1", "E231201190400", "03010"),
    ("CCASN", "E231202100000", "00660"),
    ("UMOY1", "E231202101000", "231"),
    ("STGE", None, "003A0001"),
    ("MSG1", None, "PAS DE          MESSAGE         "),
    ("NTARF", None, "02"),
    ("NJOURF", None, "00"),
    ("NJOURF+1", None, "00"),
    ("RELAIS", None, "000"),
]


def checksum(data):
    return (sum(data) & 0x3F) + 0x20


def historic_group(label, value):
    # 02E: the checksum covers label, SP, value; not the SP before it.
    body = label.encode("ascii") + bytes([SP]) + value.encode("ascii")
    return bytes([LF]) + body + bytes([SP, checksum(body), CR])


def standard_group(label, date, value):
    # 54E: HT separators; the checksum covers label through the HT before it (mode 2).
    body = label.encode("ascii") + bytes([HT])
    if date is not None:
        body += date.encode("ascii") + bytes([HT])
    body += value.encode("ascii") + bytes([HT])
    return bytes([LF]) + body + bytes([checksum(body), CR])


def char_bits(byte):
    """One 7E1 character on the wire: start, 7 data bits LSB first, even parity, stop."""
    data = [(byte >> i) & 1 for i in range(7)]
    return [0] + data + [sum(data) % 2] + [1]


def resample(raw, line_baud, rx_baud, rx_data_bits, rx_parity):
    """What a UART at rx_baud (rx_data_bits, rx_parity, 1 stop) decodes from raw sent at line_baud 7E1."""
    oversample = 16
    line = []
    for byte in raw:
        line += char_bits(byte) + [1, 1]  # some idle between characters
    line += [1] * 20
    # The line level at each tick of a clock 16 times the receiver's bit rate.
    ticks_per_line_bit = oversample * rx_baud / line_baud
    total = int(len(line) * ticks_per_line_bit)
    level = lambda t: line[min(len(line) - 1, int(t / ticks_per_line_bit))]
    frame_bits = rx_data_bits + (1 if rx_parity != "N" else 0)
    out = bytearray()
    t = 0
    while t < total:
        if level(t) == 1:
            t += 1
            continue
        # A start bit's falling edge: sample every bit in its middle.
        bits = [level(t + oversample * (k + 1) + oversample // 2) for k in range(frame_bits + 1)]
        data = bits[:rx_data_bits]
        stop = bits[frame_bits]
        value = sum(b << i for i, b in enumerate(data))
        if stop == 1:  # a framing error gives no character on Linux without PARMRK
            out.append(value)
        t += oversample * (frame_bits + 2)
    return bytes(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", required=True)
    parser.add_argument("--mode", choices=["historic", "standard"], default="historic")
    args = parser.parse_args()
    baud = 1200 if args.mode == "historic" else 9600
    port = serial.Serial(args.port, baudrate=baud, bytesize=serial.SEVENBITS, parity=serial.PARITY_EVEN, stopbits=serial.STOPBITS_ONE)
    groups = [list(g) for g in (HISTORIC if args.mode == "historic" else STANDARD)]

    def frame(corrupt=None, label=None):
        encoded = []
        for g in groups:
            data = historic_group(g[0], g[1]) if args.mode == "historic" else standard_group(*g)
            if corrupt == "checksum" and g[0] == label:
                data = data[:-2] + bytes([data[-2] ^ 0x01]) + data[-1:]
            encoded.append(data)
        body = b"".join(encoded)
        if corrupt == "cut":
            return bytes([STX]) + body[: len(body) // 2]
        if corrupt == "eot":
            return bytes([STX]) + body[: len(body) // 2] + bytes([EOT])
        return bytes([STX]) + body + bytes([ETX])

    def write_paced(data):
        # 10 bits a character at the line's baud rate.
        started = time.monotonic()
        port.write(data)
        port.flush()
        remaining = len(data) * 10 / baud - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)

    sys.stdout.write(json.dumps({"event": "ready"}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("op") == "exit":
            break
        for key, value in (request.get("set") or {}).items():
            for g in groups:
                if g[0] == key:
                    g[-1] = value
        count = request.get("count", 1)
        for _ in range(count):
            data = frame(request.get("corrupt"), request.get("label"))
            as_read = request.get("as_read")
            if as_read == "8N1":
                data = resample(data, baud, baud, 8, "N")
            elif as_read:
                data = resample(data, baud, int(as_read), 7, "E")
            write_paced(data)
        sys.stdout.write(json.dumps({"id": request.get("id"), "ok": True}) + "\n")
        sys.stdout.flush()
    port.close()


if __name__ == "__main__":
    main()
