#!/usr/bin/python3
"""Checks a Domogik package's info.json the way Domogik 0.5/0.6 loads one, and builds the
`device.get` entry Domogik's admin would return for a device created from one of its types.

The rules are those of Domogik's package loader (src/domogik/common/packagejson.py,
PackageJson._validate_02, json_version 2), restated here: the top-level, identity,
configuration, product, device type, command, sensor and xPL keys (required and allowed),
the field types, the cross references (a device type's commands and sensors exist, an
xpl_command's xplstat exists). Added, because the admin relies on them: data types known to
Domogik (src/domogik/common/datatypes.json), `auto_startup` left to Domogik, identity type
"plugin", and no xPL (Patchbay is reached over MQ: `client.cmd`).

  check_package.py validate <info.json>                       -> {"ok": bool, "errors": [...]}
  check_package.py device <info.json> <device type> <patchbay device id> <first db id> [<host>]
                                                              -> the device.get entry (JSON)
  check_package.py datatypes                                  -> Domogik's data type names (JSON)
"""
import json
import sys

FIELD_TYPES = ["boolean", "string", "choice", "date", "time", "datetime", "float", "integer", "email", "ipv4", "ipv6", "url", "password"]

# Every data type of Domogik's src/domogik/common/datatypes.json (develop 87a9668), in its order.
DATA_TYPES = set("""
DT_Trigger DT_Bool DT_Switch DT_Enable DT_Binary DT_Step DT_UpDown DT_OpenClose DT_Start DT_State
DT_Motion DT_Number DT_Scaling DT_Humidity DT_Battery DT_Angle DT_Brightness DT_Temp DT_TempK
DT_TempF DT_Pressure DT_mbarPressure DT_barPressure DT_AirQuality DT_Volt DT_mVolt DT_kVolt
DT_Current DT_mCurrent DT_kCurrent DT_Power DT_mPower DT_kPower DT_ActiveEnergy DT_mActiveEnergy
DT_kActiveEnergy DT_ApparantEnergy DT_Speed DT_kmhSpeed DT_rpmSpeed DT_ktsSpeed DT_Year DT_Month
DT_Day DT_Hour DT_Minute DT_Second DT_mSecond DT_Timestamp DT_mMeter DT_Meter DT_kMeter
DT_mMeterHour DT_Byte DT_kByte DT_MByte DT_GByte DT_pH DT_Chlorine DT_Co2 DT_Tvoc DT_Insolation
DT_kgWeight DT_VolumeLiter DT_VolumeM3 DT_String DT_Char DT_Phone DT_Hexa DT_ColorRGBHexa
DT_DateTime DT_DayOfWeek DT_Date DT_Time DT_List DT_ColorRGB DT_ColorCMYK DT_CoordD DT_CoordDM
DT_CoordDMS DT_Video DT_VideoMjpeg DT_VideoH264 DT_Image DT_Experimental DT_HVACMode DT_HVACHeat
DT_HVACVent DT_HVACFan DT_HeatingPilotWire DT_UPSState DT_UPSEvent DT_ColorCII
""".split())


class Errors(list):
    def keys(self, required, where, present, allowed=()):
        """Every required key there, and nothing but required or allowed ones."""
        if not isinstance(present, dict):
            self.append("%s is not an object" % where)
            return False
        ok = True
        for key in required:
            if key not in present:
                self.append("key '%s' not found in %s" % (key, where))
                ok = False
        for key in present:
            if key not in required and key not in allowed:
                self.append("unknown key '%s' found in %s" % (key, where))
                ok = False
        return ok


def validate(info):
    errors = Errors()
    if not isinstance(info, dict):
        return ["the file is not a JSON object"]
    if info.get("json_version") != 2:
        # Domogik's validate() silently accepts any other version without checking it.
        errors.append("json_version must be 2 (got %r)" % info.get("json_version"))
        return errors
    if not errors.keys(["configuration", "xpl_commands", "xpl_stats", "commands", "sensors", "device_types", "identity", "json_version"], "file", info, ["products", "external"]):
        return errors

    identity = info["identity"]
    if errors.keys(["author", "author_email", "description", "domogik_min_version", "name", "type", "version"], "identity", identity,
                   ["tags", "dependencies", "package_id", "icon_file", "xpl_clients_only", "compliant_xpl_clients"]):
        if identity["type"] != "plugin":
            errors.append("identity type must be 'plugin' (got %r)" % identity["type"])
        name = identity["name"]
        if not isinstance(name, str) or not name or not name.replace("_", "").isalnum() or name.lower() != name or len(name) > 16:
            errors.append("identity name must be lower case letters, digits or _, at most 16 (got %r)" % name)

    if not isinstance(info["configuration"], list):
        errors.append("configuration is not a list")
    else:
        for item in info["configuration"]:
            if errors.keys(["default", "description", "key", "name", "required", "type"], "a configuration item", item, ["sort", "max_value", "min_value", "choices", "mask", "multiline"]):
                if item["type"] not in FIELD_TYPES:
                    errors.append("configuration %s: type %r not in %s" % (item["key"], item["type"], FIELD_TYPES))
                if item["key"] == "auto_startup":
                    errors.append("configuration parameter 'auto_startup' is added by Domogik: remove it")

    for product in info.get("products", []):
        errors.keys(["name", "id", "documentation", "type"], "a product", product)

    sensors = info["sensors"] if isinstance(info["sensors"], dict) else {}
    commands = info["commands"] if isinstance(info["commands"], dict) else {}
    if not isinstance(info["device_types"], dict):
        errors.append("device_types is not an object")
    else:
        for type_id, devtype in info["device_types"].items():
            where = "device_type %s" % type_id
            if not errors.keys(["id", "name", "description", "commands", "sensors", "parameters"], where, devtype):
                continue
            if devtype["id"] != type_id:
                errors.append("%s: id %r differs from its key" % (where, devtype["id"]))
            if not type_id.startswith(identity.get("name", "") + "."):
                errors.append("%s: a device type id starts with the package name and a dot" % where)
            for kind, known in (("commands", commands), ("sensors", sensors)):
                if not isinstance(devtype[kind], list):
                    errors.append("%s: %s is not a list" % (where, kind))
                    continue
                for ref in devtype[kind]:
                    if ref not in known:
                        errors.append("%s: %s %s is not defined" % (where, kind[:-1], ref))
            if not isinstance(devtype["parameters"], list):
                errors.append("%s: parameters is not a list" % where)
                continue
            for par in devtype["parameters"]:
                if errors.keys(["key", "type", "description", "xpl"], "a parameter of %s" % where, par, ["max_value", "min_value", "choices", "mask", "multiline", "default"]):
                    if par["type"] not in FIELD_TYPES:
                        errors.append("%s: parameter %s type %r not in %s" % (where, par["key"], par["type"], FIELD_TYPES))
            if not any(isinstance(p, dict) and p.get("key") in ("device", "address") for p in devtype["parameters"]):
                errors.append("%s: no 'device' (or 'address') parameter naming the Patchbay device" % where)

    if not isinstance(info["commands"], dict):
        errors.append("commands is not an object")
    else:
        for cmd_id, cmd in commands.items():
            where = "command %s" % cmd_id
            if not errors.keys(["name", "return_confirmation", "parameters"], where, cmd, ["xpl_command"]):
                continue
            if "xpl_command" in cmd:
                if cmd["xpl_command"] not in info["xpl_commands"]:
                    errors.append("%s: xpl_command %s is not defined" % (where, cmd["xpl_command"]))
                errors.append("%s: has an xpl_command, so xplgw would send it over xPL, not to Patchbay (client.cmd)" % where)
            if not isinstance(cmd["parameters"], list):
                errors.append("%s: parameters is not a list" % where)
                continue
            for par in cmd["parameters"]:
                if errors.keys(["key", "data_type", "conversion"], "a parameter of %s" % where, par) and par["data_type"] not in DATA_TYPES:
                    errors.append("%s: data type %s is not one of Domogik's" % (where, par["data_type"]))

    if not isinstance(info["sensors"], dict):
        errors.append("sensors is not an object")
    else:
        for sensor_id, sensor in sensors.items():
            where = "sensor %s" % sensor_id
            if not errors.keys(["name", "data_type", "conversion", "history", "incremental", "timeout"], where, sensor):
                continue
            errors.keys(["store", "max", "expire", "round_value", "duplicate"], "%s history" % where, sensor["history"])
            if sensor["data_type"] not in DATA_TYPES:
                errors.append("%s: data type %s is not one of Domogik's" % (where, sensor["data_type"]))

    for part in ("xpl_commands", "xpl_stats"):
        if not isinstance(info[part], dict):
            errors.append("%s is not an object" % part)
        elif info[part]:
            errors.append("%s: Patchbay speaks MQ only; no xPL entries" % part)
    return list(errors)


def device(info, type_id, patchbay_device, first_id, host="testhost"):
    """The entry Domogik's admin returns in `device.get` for a device created from `type_id`
    (DbHelper.get_device): sensors and commands keyed by their info.json reference, with ids
    from the database (here consecutive from `first_id`)."""
    devtype = info["device_types"][type_id]
    name = info["identity"]["name"]
    ids = iter(range(first_id, first_id + 1000))
    entry = {
        "id": next(ids), "name": devtype["name"], "reference": "", "description": "",
        "device_type_id": type_id, "client_id": "plugin-%s.%s" % (name, host),
        "client_version": info["identity"]["version"], "info_changed": None,
        "parameters": {}, "sensors": {}, "commands": {}, "xpl_stats": {}, "xpl_commands": {},
    }
    for par in devtype["parameters"]:
        entry["parameters"][par["key"]] = {"id": next(ids), "key": par["key"], "type": par["type"], "value": patchbay_device if par["key"] == "device" else par.get("default", "")}
    for ref in devtype["sensors"]:
        s = info["sensors"][ref]
        entry["sensors"][ref] = {"id": next(ids), "name": s["name"], "reference": ref, "data_type": s["data_type"], "conversion": s["conversion"],
                                 "incremental": s["incremental"], "formula": None, "timeout": s["timeout"], "last_value": None, "last_received": None,
                                 "value_min": None, "value_max": None}
    for ref in devtype["commands"]:
        c = info["commands"][ref]
        entry["commands"][ref] = {"id": next(ids), "name": c["name"], "return_confirmation": c["return_confirmation"], "parameters": c["parameters"]}
    return entry


def main(argv):
    if len(argv) >= 3 and argv[1] == "validate":
        with open(argv[2]) as f:
            errors = validate(json.load(f))
        print(json.dumps({"ok": not errors, "errors": errors}))
        return 0 if not errors else 1
    if len(argv) >= 6 and argv[1] == "device":
        with open(argv[2]) as f:
            print(json.dumps(device(json.load(f), argv[3], argv[4], int(argv[5]), *(argv[6:7]))))
        return 0
    if len(argv) == 2 and argv[1] == "datatypes":
        print(json.dumps(sorted(DATA_TYPES)))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
