#!/usr/bin/python3
"""A Home Assistant stand-in for the MQTT adapter's tests, on Debian's python3-paho-mqtt (1.6.1).

It does what Home Assistant's MQTT integration does with discovery, as its documentation
describes it (https://www.home-assistant.io/integrations/mqtt/, the per-component pages):

- subscribes to <prefix>/+/+/config and <prefix>/+/+/+/config, builds one entity per config
  message (an empty retained payload removes it), and checks the config the way Home Assistant's
  schemas do: known component, unique_id, device block, device_class valid for the component,
  unit valid for the sensor device class, state_class rules, availability list and mode, origin;
- follows each entity's state topic (converting payloads the component's way) and its
  availability topics (availability_mode all: available once every topic says available);
- announces itself with a retained "online" on <prefix>/status, and "offline" as its last will;
- sends commands on an entity's command_topic as MQTT 5 with a response topic and correlation
  data, and reports each reply with the correlation data it came back with.

Control: one JSON object per line on stdin. Events: one JSON object per line on stdout.
  {"cmd": "command", "id": "c1", "unique_id": "...", "payload": "ON"}   -> {"event": "reply", ...}
  {"cmd": "publish", "topic": "...", "payload": "...", "hex": false, "response": true, "id": "x"}
  {"cmd": "status", "payload": "offline" | "online"}                    -> publishes <prefix>/status
  {"cmd": "entities"}                                                   -> {"event": "entities", ...}
  {"cmd": "quit"}
"""
import json
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

COMPONENTS = {"sensor", "binary_sensor", "switch", "number", "select", "button", "event", "text"}

# Device classes per component and units per sensor device class, from Home Assistant's docs.
SENSOR_UNITS = {
    "temperature": {"°C", "°F", "K"},
    "humidity": {"%"},
    "pressure": {"Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi"},
    "power": {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"},
    "apparent_power": {"mVA", "VA", "kVA"},
    "energy": {"mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "MJ", "GJ", "cal", "kcal", "Mcal", "Gcal"},
    "voltage": {"µV", "mV", "V", "kV", "MV"},
    "current": {"mA", "A"},
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
    "illuminance": {"lx"},
    "carbon_dioxide": {"ppm"},
    "battery": {"%"},
    "signal_strength": {"dB", "dBm"},
    "duration": {"d", "h", "min", "s", "ms", "µs"},
    "monetary": None,
    "enum": set(),
}
BINARY_CLASSES = {"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas", "heat",
                  "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power", "presence", "problem",
                  "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window"}
SWITCH_CLASSES = {"outlet", "switch"}
EVENT_CLASSES = {"button", "doorbell", "motion"}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
TOTAL_ONLY = {"energy", "monetary"}

out_lock = threading.Lock()


def emit(**event):
    event["t"] = time.time()
    with out_lock:
        sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def check_config(component, config):
    """The problems Home Assistant would refuse this config for (an empty list: accepted)."""
    problems = []
    if component not in COMPONENTS:
        return ["unknown component " + component]
    if not isinstance(config.get("unique_id"), str) or not config["unique_id"]:
        problems.append("no unique_id")
    device = config.get("device")
    if not isinstance(device, dict) or not (device.get("identifiers") or device.get("connections")):
        problems.append("device block without identifiers or connections")
    origin = config.get("origin")
    if origin is not None and not (isinstance(origin, dict) and isinstance(origin.get("name"), str)):
        problems.append("origin without a name")
    availability = config.get("availability")
    if availability is not None:
        if not isinstance(availability, list) or not all(isinstance(a, dict) and isinstance(a.get("topic"), str) for a in availability):
            problems.append("availability must be a list of {topic}")
        if "availability_topic" in config:
            problems.append("availability and availability_topic together")
    if config.get("availability_mode", "latest") not in {"all", "any", "latest"}:
        problems.append("bad availability_mode")
    device_class = config.get("device_class")
    unit = config.get("unit_of_measurement")
    state_class = config.get("state_class")
    if component in {"sensor", "number"}:
        if device_class is not None:
            if device_class not in SENSOR_UNITS:
                problems.append("device_class %s is not a %s class" % (device_class, component))
            elif device_class == "enum":
                if component == "number":
                    problems.append("number has no enum class")
                if unit is not None or state_class is not None:
                    problems.append("an enum sensor has no unit or state_class")
                if not config.get("options"):
                    problems.append("an enum sensor needs options")
            elif SENSOR_UNITS[device_class] is not None and unit not in SENSOR_UNITS[device_class]:
                problems.append("unit %r is not valid for device_class %s" % (unit, device_class))
        if state_class is not None:
            if component == "number" or state_class not in STATE_CLASSES:
                problems.append("bad state_class %r" % state_class)
            elif state_class == "measurement" and device_class in TOTAL_ONLY:
                problems.append("device_class %s cannot have state_class measurement" % device_class)
    if component == "binary_sensor" and device_class is not None and device_class not in BINARY_CLASSES:
        problems.append("device_class %s is not a binary_sensor class" % device_class)
    if component == "switch" and device_class is not None and device_class not in SWITCH_CLASSES:
        problems.append("device_class %s is not a switch class" % device_class)
    if component == "event":
        if device_class is not None and device_class not in EVENT_CLASSES:
            problems.append("device_class %s is not an event class" % device_class)
        if not config.get("event_types"):
            problems.append("event needs event_types")
    if component in {"switch", "number", "select", "button", "text"} and not isinstance(config.get("command_topic"), str):
        problems.append(component + " needs a command_topic")
    if component in {"sensor", "binary_sensor", "event"} and not isinstance(config.get("state_topic"), str):
        problems.append(component + " needs a state_topic")
    if component == "select" and not config.get("options"):
        problems.append("select needs options")
    if component == "number":
        lo, hi, step = config.get("min", 1), config.get("max", 100), config.get("step", 1)
        if not (isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo < hi and isinstance(step, (int, float)) and step > 0):
            problems.append("number needs min < max and step > 0")
    return problems


def convert_state(entity, text):
    """A state payload as the component's entity state, or raises ValueError like HA logs."""
    c, config = entity["component"], entity["config"]
    if c == "sensor":
        if config.get("device_class") == "enum":
            if text not in config.get("options", []):
                raise ValueError("not an option")
            return text
        if config.get("device_class") or config.get("unit_of_measurement") or config.get("state_class"):
            return float(text)
        return text
    if c == "binary_sensor":
        if text == config.get("payload_on", "ON"):
            return "on"
        if text == config.get("payload_off", "OFF"):
            return "off"
        raise ValueError("neither payload_on nor payload_off")
    if c == "switch":
        if text == config.get("state_on", config.get("payload_on", "ON")):
            return "on"
        if text == config.get("state_off", config.get("payload_off", "OFF")):
            return "off"
        raise ValueError("neither state_on nor state_off")
    if c == "number":
        return float(text)
    if c == "select":
        if text not in config.get("options", []):
            raise ValueError("not an option")
        return text
    if c == "event":
        payload = json.loads(text)
        if payload.get("event_type") not in config.get("event_types", []):
            raise ValueError("event_type not in event_types")
        return payload["event_type"]
    return text


class Standin:
    def __init__(self, host, port, prefix):
        self.prefix = prefix
        self.entities = {}  # unique_id -> entity
        self.by_topic = {}  # config topic -> unique_id
        self.routes = {}  # state/availability topic -> [(unique_id, role, index)]
        self.reply_topic = "homeassistant-standin/replies/" + uuid.uuid4().hex[:8]
        self.pending = {}  # correlation hex -> command id
        self.lock = threading.Lock()
        self.client = mqtt.Client(client_id="ha-standin-" + uuid.uuid4().hex[:6], protocol=mqtt.MQTTv5)
        self.client.will_set(prefix + "/status", "offline", qos=1, retain=True)
        self.client.on_connect = self.on_connect
        self.client.on_message = self.on_message
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=0.5)
        self.client.connect(host, port, keepalive=30)

    def on_connect(self, client, userdata, flags, reason, properties=None):
        client.subscribe([(self.prefix + "/+/+/config", 1), (self.prefix + "/+/+/+/config", 1), (self.reply_topic, 1)])
        with self.lock:
            topics = list(self.routes)
        for topic in topics:
            client.subscribe(topic, 1)
        client.publish(self.prefix + "/status", "online", qos=1, retain=True)
        emit(event="connected")

    def on_message(self, client, userdata, msg):
        topic = msg.topic
        if topic == self.reply_topic:
            correlation = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
            key = correlation.hex() if correlation else None
            with self.lock:
                command_id = self.pending.pop(key, None)
            try:
                reply = json.loads(msg.payload.decode("utf-8"))
            except ValueError:
                reply = {"unparseable": msg.payload.decode("utf-8", "replace")}
            emit(event="reply", id=command_id, correlation=key, reply=reply)
            return
        if topic.startswith(self.prefix + "/") and topic.endswith("/config"):
            self.on_config(topic, msg.payload)
            return
        with self.lock:
            routes = list(self.routes.get(topic, []))
        text = msg.payload.decode("utf-8", "replace")
        for unique_id, role, index in routes:
            entity = self.entities.get(unique_id)
            if entity is None:
                continue
            if role == "availability":
                entity["availability"][index] = text
                self.emit_available(entity)
            elif role == "state":
                try:
                    state = convert_state(entity, text)
                except (ValueError, TypeError, AttributeError) as error:
                    emit(event="state_error", unique_id=unique_id, payload=text, error=str(error))
                    continue
                entity["state"] = state
                emit(event="state", unique_id=unique_id, component=entity["component"], state=state, retained=bool(msg.retain))

    def emit_available(self, entity):
        config = entity["config"]
        mode = config.get("availability_mode", "latest")
        marks = []
        for i, a in enumerate(config.get("availability", [])):
            value = entity["availability"].get(i)
            marks.append(True if value == a.get("payload_available", "online") else False if value == a.get("payload_not_available", "offline") else None)
        if mode == "all":
            available = all(m is True for m in marks)
        elif mode == "any":
            available = any(m is True for m in marks)
        else:
            available = bool(marks) and [m for m in marks if m is not None][-1:] == [True]
        if entity.get("available") != available:
            entity["available"] = available
            emit(event="available", unique_id=entity["config"]["unique_id"], available=available)

    def on_config(self, topic, payload):
        parts = topic.split("/")
        component = parts[1]
        if len(payload) == 0:
            with self.lock:
                unique_id = self.by_topic.pop(topic, None)
                entity = self.entities.pop(unique_id, None) if unique_id else None
            emit(event="removed", topic=topic, unique_id=unique_id, existed=entity is not None)
            return
        try:
            config = json.loads(payload.decode("utf-8"))
        except ValueError as error:
            emit(event="config_error", topic=topic, problems=["not JSON: %s" % error])
            return
        problems = check_config(component, config)
        emit(event="config", topic=topic, component=component, unique_id=config.get("unique_id"), problems=problems, config=config)
        if problems:
            return
        unique_id = config["unique_id"]
        entity = {"component": component, "config": config, "availability": {}, "state": None, "available": None}
        with self.lock:
            self.entities[unique_id] = entity
            self.by_topic[topic] = unique_id
            subscribe = []
            for i, a in enumerate(config.get("availability", [])):
                subscribe.append((a["topic"], (unique_id, "availability", i)))
            if isinstance(config.get("state_topic"), str):
                subscribe.append((config["state_topic"], (unique_id, "state", 0)))
            fresh = []
            for t, route in subscribe:
                routes = self.routes.setdefault(t, [])
                routes[:] = [r for r in routes if not (r[0] == route[0] and r[1] == route[1] and r[2] == route[2])]
                if not routes:
                    fresh.append(t)
                routes.append(route)
        # Subscribing again to a topic already subscribed makes the broker send its retained message again.
        for t, _ in subscribe:
            self.client.subscribe(t, 1)
        self.emit_available(entity)

    def command(self, command_id, unique_id, payload):
        entity = self.entities.get(unique_id)
        if entity is None or "command_topic" not in entity["config"]:
            emit(event="reply", id=command_id, reply=None, error="no such entity with a command_topic: %s" % unique_id)
            return
        self.publish(command_id, entity["config"]["command_topic"], payload.encode("utf-8"), True)

    def publish(self, command_id, topic, payload, response):
        properties = None
        if response:
            correlation = uuid.uuid4().bytes
            with self.lock:
                self.pending[correlation.hex()] = command_id
            properties = Properties(PacketTypes.PUBLISH)
            properties.ResponseTopic = self.reply_topic
            properties.CorrelationData = correlation
        self.client.publish(topic, payload, qos=1, properties=properties)
        emit(event="sent", id=command_id, topic=topic)


def main():
    host, port, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "homeassistant"
    standin = Standin(host, port, prefix)
    standin.client.loop_start()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        request = json.loads(line)
        cmd = request.get("cmd")
        if cmd == "command":
            standin.command(request.get("id"), request["unique_id"], request["payload"])
        elif cmd == "publish":
            payload = bytes.fromhex(request["payload"]) if request.get("hex") else request["payload"].encode("utf-8")
            standin.publish(request.get("id"), request["topic"], payload, request.get("response", True))
        elif cmd == "status":
            standin.client.publish(prefix + "/status", request["payload"], qos=1, retain=True)
            emit(event="status_sent", payload=request["payload"])
        elif cmd == "entities":
            with standin.lock:
                entities = {u: {"component": e["component"], "state": e["state"], "available": e["available"], "config": e["config"]} for u, e in standin.entities.items()}
            emit(event="entities", entities=entities)
        elif cmd == "quit":
            break
    standin.client.loop_stop()
    standin.client.disconnect()


if __name__ == "__main__":
    main()
