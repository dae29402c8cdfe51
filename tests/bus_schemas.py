#!/usr/bin/python3
"""The [bus] messages' JSON Schemas (schemas/*.json, issue 15): every file
is a valid draft-07 schema with its $id, title and description; the good
examples below validate and every bad example fails (each for the reason
its comment gives). Needs Debian's python3-jsonschema (skips without it).
Prints TAP.

usage: bus_schemas.py REPO_ROOT [FILTER]
"""
import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import SkipTest, Suite  # noqa: E402

try:
    import jsonschema
except ImportError:
    jsonschema = None

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SCHEMAS = os.path.join(ROOT, "schemas")
NAMES = ["frameset", "detections", "event", "stats", "deepstream-minimal", "control-request", "control-reply",
         "clip-request", "clip-reply"]
T = 1796498636450000000  # a time in ns


def patched(base, drop=(), **changes):
    """A copy of @base without the keys in @drop and with @changes."""
    m = copy.deepcopy(base)
    for k in drop:
        del m[k]
    m.update(changes)
    return m


FRAMESET = {"schema": "lockstep.frameset/1", "rig": "rig-1", "n": 17964986364, "slot_ns": T, "emit_ns": T + 40000000,
            "complete": False, "deadline": True, "skew_ns": 1200, "present": 2,
            "cameras": [{"camera": "a", "state": "present", "capture_ns": T + 300, "offset_ns": 300},
                        {"camera": "b", "state": "missing"},
                        {"camera": "c.1", "state": "held", "capture_ns": T - 33000000, "age_ns": 33000000}]}
DETECTIONS = {"schema": "lockstep.detections/1", "rig": "rig-1", "n": 17964986364, "slot_ns": T,
              "cameras": [{"camera": "a", "capture_ns": T + 300, "gated": False,
                           "motion": {"on": True, "score": 0.0123, "boxes": [[0, 0, 16, 16]]},
                           "detections": [{"class": "person", "score": 0.874, "box": [10.0, 20.0, 110.5, 220.0],
                                           "track_id": 3},
                                          {"class": "text", "score": 0.5, "box": [1, 2, 3, 4],
                                           "quad": [1, 2, 3, 2, 3, 4, 1, 4], "track_id": None}]},
                          {"camera": "b", "capture_ns": T + 500, "detections": []}]}
STATS = json.loads(
    '{"schema":"lockstep.stats/1","rig":"rig-1",'
    '"time":"2026-12-05T19:23:56.500Z","final":true,"slot":17964986364,"sets":25,"complete":24,"partial":1,'
    '"dropped_slots":0,"aligner_dropped":0,"late":0,"off_slot":0,"superseded":0,"future":0,"forced":0,"warmup":2,'
    '"missing":{"a":1,"b":0},"cameras":{"a":{"state":"idle","frames":25,"ring_full":0,"pool_empty":0,'
    '"camera_drops":0,"reconnects":0,"outages":0,"outage_s":0.000,"down_s":0.000,"phase_ms":0.000},'
    '"b":{"state":"running","frames":25,"ring_full":0,"pool_empty":0,"camera_drops":0,"reconnects":0,"outages":0,'
    '"outage_s":0.000,"down_s":0.000,"phase_ms":null}},'
    '"outputs":{"shm":{"dropped":0,"published":25}},"skew_us":{"p50":0.0,"p99":0.0,"max":0.0},'
    '"latency_ms":{"p50":0.29,"p99":100.22,"max":100.22},'
    '"skew_hist":{"le_us":[10,25],"counts":[24,24,24],"sum_us":0,"count":24},'
    '"latency_hist":{"le_ms":[1,2.5],"counts":[24,24,25],"sum_ms":110.5,"count":25}}')
DEEPSTREAM = {"schema": "lockstep.deepstream-minimal/1", "rig": "rig-1", "version": "4.0", "id": "17964986364",
              "@timestamp": "2026-12-05T19:23:56.500Z", "sensorId": "a",
              "objects": ["3|10|20|110.5|220|person|#|0.874", "-1|1|2|3|4|car|#|0.5"]}


def ev(kind, **fields):
    return dict({"schema": "lockstep.event/1", "rig": "rig-1", "kind": kind, "time_ns": T}, **fields)


CAMDOWN = dict(camera="a", state="reconnecting", outages=1, outage_s=2.5)
SEGMENT = dict(camera="a", path="/rec/a/00001.mkv", first_slot=100, last_slot=399, start_ns=T, end_ns=T + 10 ** 10,
               bytes=123456, frames=300, repeated=2, missing="120-135,200")
CLIP = dict(what="motion", first_slot=100, last_slot=200, frames=101, dir="/rec/clips/x",
            manifest="/rec/clips/x/manifest.json")

# name: (good examples, bad examples); a bad example fails for one reason
EXAMPLES = {
    "frameset": (
        [FRAMESET,
         patched(FRAMESET, complete=True, deadline=False, present=1, skew_ns=0,
                 cameras=[{"camera": "a", "state": "present", "capture_ns": T, "offset_ns": 0}]),
         patched(FRAMESET, extra_field_for_later=1)],
        [patched(FRAMESET, schema="lockstep.frameset/2"),  # another version
         patched(FRAMESET, drop=["rig"]),  # no rig
         patched(FRAMESET, drop=["skew_ns"]),  # no skew
         patched(FRAMESET, n=1.5),  # not an integer
         patched(FRAMESET, slot_ns="1796498636450000000"),  # a string
         patched(FRAMESET, complete="yes"),  # not a boolean
         patched(FRAMESET, cameras=[{"camera": "a", "state": "present", "capture_ns": T}]),  # no offset_ns
         patched(FRAMESET, cameras=[{"camera": "a", "state": "held", "capture_ns": T}]),  # no age_ns
         patched(FRAMESET, cameras=[{"camera": "a", "state": "gone"}]),  # unknown state
         patched(FRAMESET, cameras=[{"camera": "a", "state": "missing", "capture_ns": T}]),  # missing, with a time
         patched(FRAMESET, cameras=[{"camera": "a b", "state": "missing"}]),  # bad camera name
         patched(FRAMESET, cameras=[]),  # no camera
         patched(FRAMESET, rig="my rig")]),  # bad rig name
    "detections": (
        [DETECTIONS, patched(DETECTIONS, cameras=[])],
        [patched(DETECTIONS, schema="lockstep.frameset/1"),
         patched(DETECTIONS, drop=["slot_ns"]),
         patched(DETECTIONS, cameras=[{"camera": "a", "capture_ns": T}]),  # no detections
         patched(DETECTIONS, cameras=[{"camera": "a", "capture_ns": T, "detections": [
             {"class": "person", "score": 0.8, "box": [1, 2, 3], "track_id": 1}]}]),  # 3-number box
         patched(DETECTIONS, cameras=[{"camera": "a", "capture_ns": T, "detections": [
             {"class": "person", "score": 0.8, "box": [1, 2, 3, 4]}]}]),  # no track_id
         patched(DETECTIONS, cameras=[{"camera": "a", "capture_ns": T, "detections": [
             {"class": "person", "score": 0.8, "box": [1, 2, 3, 4], "track_id": "3"}]}]),  # track_id a string
         patched(DETECTIONS, cameras=[{"camera": "a", "capture_ns": T, "detections": [
             {"class": "text", "score": 0.8, "box": [1, 2, 3, 4], "quad": [1, 2, 3, 4], "track_id": None}]}]),
         patched(DETECTIONS, cameras=[{"camera": "a", "capture_ns": T, "gated": True, "detections": []}]),
         patched(DETECTIONS, cameras=[{"camera": "a", "capture_ns": T, "gated": False,
                                       "motion": {"on": True, "score": 0.1}, "detections": []}])]),
    "event": (
        [ev("camera-down", **CAMDOWN), ev("camera-up", **dict(CAMDOWN, state="running")),
         ev("track-started", camera="a", slot=5, track=3, **{"class": "person"}, score=0.9, box=[1, 2, 3, 4]),
         ev("track-ended", camera="a", slot=9, track=3, **{"class": "person"}),
         ev("track-ended", camera="a", slot=9, track=3, **{"class": "person"}, score=0.9, box=[1, 2, 3, 4]),
         ev("motion-on", camera="a", slot=5), ev("motion-off", camera="a", slot=9),
         ev("clip-ready", camera="a", **CLIP), ev("clip-ready", clip="c-0001", **dict(CLIP, what="export")),
         ev("clip-failed", camera="a", what="motion", error="no frames"),
         ev("redact-full-mask", camera="a", why="canary-failed"), ev("redact-full-mask-end", camera="a"),
         ev("canary-failed", camera="a"), ev("canary-passed", camera="a", latency_ms=120.5),
         ev("segment-closed", **SEGMENT), ev("segment-closed", **dict(SEGMENT, missing="")),
         ev("motion-on", camera="a", slot=5, some_new_field=[1])],  # extra fields allowed
        [ev("camera-exploded", camera="a"),  # unknown kind
         patched(ev("motion-on", camera="a", slot=5), drop=["time_ns"]),
         patched(ev("motion-on", camera="a", slot=5), drop=["kind"]),
         patched(ev("motion-on", camera="a", slot=5), schema="lockstep.events/1"),
         ev("motion-on", camera="a", slot=5, time_ns=1.5),
         ev("camera-down", **patched(CAMDOWN, drop=["outages"])),
         ev("camera-up", **patched(CAMDOWN, outage_s="2.5")),
         ev("track-started", camera="a", slot=5, track=3, **{"class": "person"}),  # no score, box
         ev("track-ended", camera="a", slot=9, **{"class": "person"}),  # no track
         ev("track-ended", camera="a", slot=9, track=3, **{"class": "person"}, box=[1, 2]),
         ev("motion-off", camera="a"),
         ev("clip-ready", **CLIP),  # neither camera nor clip
         ev("clip-ready", camera="a", **patched(CLIP, drop=["manifest"])),
         ev("clip-failed", camera="a", what="motion"),
         ev("redact-full-mask", camera="a"), ev("redact-full-mask-end"), ev("canary-failed"),
         ev("canary-passed", camera="a"),
         ev("segment-closed", **patched(SEGMENT, drop=["repeated"])),
         ev("segment-closed", **patched(SEGMENT, missing=[120, 135])),
         ev("segment-closed", **patched(SEGMENT, missing="120-,x"))]),
    "stats": (
        [STATS, patched(STATS, slot=-1, final=False, cameras={}, missing={}, outputs={})],
        [patched(STATS, drop=["schema"]), patched(STATS, drop=["rig"]), patched(STATS, drop=["time"]),
         patched(STATS, drop=["latency_hist"]), patched(STATS, drop=["warmup"]),
         patched(STATS, time="yesterday"), patched(STATS, sets=-1), patched(STATS, sets=2.5),
         patched(STATS, missing={"a": "1"}),
         patched(STATS, cameras={"a": {"state": "idle"}}),  # a camera without its counters
         patched(STATS, cameras=[STATS["cameras"]["a"]]),  # not an object of objects
         patched(STATS, outputs={"shm": 3}), patched(STATS, outputs={"shm": {"published": 3}}),
         patched(STATS, skew_us={"p50": 1, "p99": 2}),
         patched(STATS, skew_hist=STATS["latency_hist"])]),  # le_ms, not le_us
    "deepstream-minimal": (
        [DEEPSTREAM, patched(DEEPSTREAM, objects=[])],
        [patched(DEEPSTREAM, version="4"), patched(DEEPSTREAM, drop=["sensorId"]), patched(DEEPSTREAM, id=3),
         patched(DEEPSTREAM, drop=["schema"]), patched(DEEPSTREAM, **{"@timestamp": "2026-12-05 19:23:56"}),
         patched(DEEPSTREAM, objects=["3|10|20|110|220|person|0.8"]),  # no '#'
         patched(DEEPSTREAM, objects=["x|10|20|110|220|person|#|0.8"]),
         patched(DEEPSTREAM, objects=[{"id": 3}])]),
    "control-request": (
        [{"command": "start", "at_ns": T}, {"command": "stop"}, {"command": "stop", "at_ns": T}],
        [{"command": "start"}, {"command": "pause"}, {"at_ns": T}, {"command": "stop", "at_ns": "now"},
         {"command": "start", "at_ns": -5}, []]),
    "control-reply": (
        [{"ok": True, "command": "start", "at_ns": T}, {"ok": True, "command": "stop", "at_ns": T},
         {"ok": False, "error": "at_ns is in the past"}],
        [{"ok": True}, {"ok": False}, {"ok": "true", "command": "start", "at_ns": T},
         {"ok": True, "command": "start", "at_ns": T, "error": "x"}, {"command": "start", "at_ns": T}]),
    "clip-request": (
        [{"from_ns": T, "to_ns": T + 10 ** 10}, {"from_ns": T, "to_ns": T + 1, "cameras": ["a"], "pre_s": 2,
                                                  "post_s": 1.5},
         {"n1": 100, "n2": 200}, {"n1": 100, "n2": 200, "cameras": ["a", "b"]}],
        [{}, {"from_ns": T}, {"n1": 1}, {"from_ns": T, "to_ns": T + 1, "n1": 1, "n2": 2},
         {"from_ns": "T", "to_ns": T}, {"n1": 1, "n2": 2, "cameras": "a"}, {"n1": 1, "n2": 2, "cameras": []},
         {"n1": 1, "n2": 2, "pre_s": -1}]),
    "clip-reply": (
        [{"ok": True, "dir": "/rec/clips/x", "manifest": "/rec/clips/x/manifest.json", "first_slot": 1,
          "last_slot": 2, "frames": 2}, {"ok": False, "error": "no recording in that range"}],
        [{"ok": True, "dir": "/rec/clips/x"}, {"ok": False}, {"ok": False, "error": ""},
         {"ok": True, "dir": "/d", "manifest": "/d/manifest.json", "first_slot": 1, "last_slot": 2, "frames": "2"}]),
}

suite = Suite()


def load(name):
    with open(os.path.join(SCHEMAS, name + ".json")) as f:
        return json.load(f)


def validator(name):
    if jsonschema is None:
        raise SkipTest("python3-jsonschema is not installed")
    return jsonschema.Draft7Validator(load(name))


@suite.test
def every_schema_file_is_known():
    have = sorted(f[:-5] for f in os.listdir(SCHEMAS) if f.endswith(".json"))
    assert have == sorted(NAMES), "schemas/ holds %s, expected %s" % (have, sorted(NAMES))


def schema_test(name):
    def valid():
        if jsonschema is None:
            raise SkipTest("python3-jsonschema is not installed")
        s = load(name)
        jsonschema.Draft7Validator.check_schema(s)
        assert s.get("$schema") == "http://json-schema.org/draft-07/schema#", s.get("$schema")
        assert s.get("$id") == "https://lockstep.invalid/schemas/%s.json" % name, s.get("$id")
        assert s.get("title") and s.get("description"), "no title or description"
        assert s.get("type") == "object" and (s.get("required") or s.get("oneOf")), "no required fields"
        if "schema" in s.get("required", []):
            assert s["properties"]["schema"] == {"const": "lockstep.%s/1" % name}, s["properties"]["schema"]

    def good():
        v = validator(name)
        for i, m in enumerate(EXAMPLES[name][0]):
            errs = [e.message for e in v.iter_errors(m)]
            assert not errs, "good example %d refused: %s\n%s" % (i, errs, json.dumps(m))

    def bad():
        v = validator(name)
        for i, m in enumerate(EXAMPLES[name][1]):
            assert not v.is_valid(m), "bad example %d accepted: %s" % (i, json.dumps(m))

    tag = name.replace("-", "_")
    for fn, what in ((valid, "is_valid_draft7"), (good, "accepts_good_examples"), (bad, "refuses_bad_examples")):
        fn.__name__ = "%s_%s" % (tag, what)
        suite.test(fn)


for n in NAMES:
    schema_test(n)

if __name__ == "__main__":
    sys.exit(suite.run(sys.argv[2] if len(sys.argv) > 2 else ""))
