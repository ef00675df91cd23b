"""Fleets of captures on Dask (issue #20): many taps of one network, each with its own
clock, read where they are and merged into the timeline of the single-machine run."""

from __future__ import annotations

import json
import os
import random
import signal
import struct

import pytest

from analyzer.capture.profile import DEFAULT_PROFILE
from analyzer.capture.reading import read_capture
from analyzer.keys.store import load_keys
from analyzer.output.timeline import timeline
from analyzer.pipeline.fleet import (
    FleetReport,
    expand,
    export_here,
    export_on_dask,
    prepare_capture,
)
from analyzer.pipeline.session import Session
from tests.conftest import CAPTURES

SOURCE = CAPTURES / "lab-interop.pcapng"
KEYS = CAPTURES / "lab-interop.keys.toml"
TAPS = 8


def _write_pcap(path, records) -> None:
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
        for time, data in records:
            sec = int(time)
            nsec = round((time - sec) * 1e9)
            if nsec >= 10**9:
                sec, nsec = sec + 1, nsec - 10**9
            fh.write(struct.pack("<IIII", sec, nsec, len(data), len(data)) + data)


@pytest.fixture(scope="module")
def taps(tmp_path_factory):
    """The interop capture as 8 taps: each sees the group traffic (so the taps share
    MIKEY messages to align on and duplicates to drop) and the unicast traffic of
    the UEs it serves; tap k's clock is k x 0.37 s ahead."""
    folder = tmp_path_factory.mktemp("taps")
    lanes: list[list[tuple[float, bytes]]] = [[] for _ in range(TAPS)]
    for rec in read_capture(SOURCE):
        dst = rec.data[30:34]
        src = rec.data[26:30]
        if 224 <= dst[0] <= 239:
            seen = range(TAPS)
        else:
            ue = src if src[:2] == bytes([10, 1]) else dst
            seen = [ue[3] % TAPS, (ue[3] + 3) % TAPS]  # two taps see each UE
        for k in seen:
            lanes[k].append((rec.time + 0.37 * k, rec.data))
    paths = []
    for k, lane in enumerate(lanes):
        path = folder / f"tap{k}.pcap"
        _write_pcap(path, lane)
        paths.append(str(path))
    return paths


def _doc(run: Session) -> str:
    return json.dumps(timeline(run), indent=1, ensure_ascii=False)


def _serial(paths) -> str:
    run = Session(load_keys(KEYS))
    run.add_captures(paths)
    return _doc(run)


def test_the_per_capture_part_elsewhere_gives_the_same_timeline(taps):
    """Map, reduce, SRTP opened per group beside the captures, final merge (in this
    process, task by task): the single-machine bytes; so too when every record kept
    goes to the reduce (the fallback)."""
    want = _serial(taps)
    doc = json.loads(want)
    assert [c.get("offset") for c in doc["captures"]][1:3] == [-0.37, -0.74]
    assert any(e["event"] == "first_use" for k in doc["keys"] for e in k["events"])
    report = FleetReport()
    run = Session(load_keys(KEYS))
    export_here(taps, run, report)
    assert _doc(run) == want
    assert report.groups and not report.fallback and report.srtp_sent > 0
    prepared = [prepare_capture(p, DEFAULT_PROFILE, srtp=True).everything() for p in taps]
    run = Session(load_keys(KEYS))
    run.add_prepared(prepared)
    assert _doc(run) == want


def _lossy_taps(source, folder, taps, seed, swap=False):
    """*taps* views of *source*, each losing 30 % of the packets (different ones), with
    its own clock and jitter; *swap*: the second tap's clock goes back once."""
    rng = random.Random(seed)
    lanes = [[] for _ in range(taps)]
    for rec in read_capture(source):
        for k in range(taps):
            if rng.random() < 0.7:
                lanes[k].append((rec.time + 0.3 * k + rng.uniform(0, 0.001), rec.data))
    paths = []
    for k, lane in enumerate(lanes):
        lane.sort(key=lambda item: item[0])
        if swap and k == 1:
            lane[10], lane[200] = lane[200], lane[10]
        paths.append(str(folder / f"{source.stem}-{k}.pcap"))
        _write_pcap(paths[-1], lane)
    return paths


@pytest.mark.parametrize("name, taps", [("lab-mixed", 3), ("lab-attacks", 2),
                                        ("lab-missed-update", 4), ("lab-basic", 1)])
def test_srtp_opened_in_groups_beside_lossy_taps(tmp_path, name, taps):
    """Taps that each miss other packets (so which tap's copy of an SRTP packet counts,
    and which keys are known at it, depend on the merge), noise flows written off, the
    attack capture's replays and wrong keys: the same timeline. SRTP packet bytes do
    not reach the reduce."""
    paths = _lossy_taps(CAPTURES / f"{name}.pcapng", tmp_path, taps, seed=taps)
    want, got, report = _here_and_home(paths, CAPTURES / f"{name}.keys.toml")
    assert got == want
    assert report.groups and not report.fallback
    everything = sum(p.everything().kept_bytes for p in
                     (prepare_capture(x, DEFAULT_PROFILE, srtp=True) for x in paths))
    assert report.received + report.srtp_sent < everything / 2, (report, everything)


def test_a_tap_whose_clock_goes_back_falls_back_to_srtp_at_the_reduce(tmp_path):
    paths = _lossy_taps(CAPTURES / "lab-attacks.pcapng", tmp_path, 2, seed=3, swap=True)
    want, got, report = _here_and_home(paths, CAPTURES / "lab-attacks.keys.toml")
    assert report.fallback and report.groups is None
    assert got == want


def _here_and_home(paths, keys):
    """(the single-machine timeline, the fleet's in this process, its report)."""
    run = Session(load_keys(keys))
    run.add_captures(paths)
    want = _doc(run)
    report = FleetReport()
    run = Session(load_keys(keys))
    export_here(paths, run, report)
    return want, _doc(run), report


def test_unrelated_traffic_never_leaves_the_worker():
    """The reduce's input: MBMS records (and, with keys, RTP-like UDP to try them on),
    never the DNS queries and random UDP of the mixed capture."""
    mixed = CAPTURES / "lab-mixed.pcapng"
    without = prepare_capture(str(mixed), DEFAULT_PROFILE, srtp=False)

    def noise(records):  # DNS queries and random UDP (ports 40000-40999)
        return [r for r in records if r.data[23] == 17
                and (struct.unpack_from("!H", r.data, 36)[0] == 53
                     or 40000 <= struct.unpack_from("!H", r.data, 36)[0] < 41000)]
    everything = noise(read_capture(mixed))
    kept = noise(without.records)
    # only what starts like MIKEY (first byte 1: the strict heuristic decides later)
    assert len(everything) > 2000 and len(kept) <= len(everything) // 100
    assert all(r.data[42] == 1 for r in kept)
    assert len(without.records) < without.packets * 0.2, (len(without.records), without.packets)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


def test_on_a_local_dask_cluster_with_a_worker_killed(taps, cluster):
    from dask.distributed import Client

    want = _serial(taps)
    with Client(cluster.scheduler_address) as client:
        pids = list(client.run(os.getpid).values())
    killed = []

    def progress(done, total, received):
        if not killed:  # the first task has ended: kill a worker while the others run
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
        assert total == TAPS and received > 0

    report = FleetReport()
    run = Session(load_keys(KEYS))
    errors = export_on_dask(taps, run, cluster.scheduler_address, progress=progress,
                            report=report)
    assert killed and not errors and report.groups
    assert _doc(run) == want


def test_globs_expand_in_order(taps):
    folder = os.path.dirname(taps[0])
    assert expand([os.path.join(folder, "tap*.pcap")]) == sorted(taps)
    assert expand(["no/such/*.pcap"]) == ["no/such/*.pcap"]  # reported by name later


def test_the_command_line_on_dask_gives_the_single_machine_output(taps, tmp_path):
    """export, dissect --json and decrypt with --dask (a local cluster): byte-identical outputs;
    a capture the workers cannot read is named in one line, the rest completes."""
    import subprocess
    import sys

    pytest.importorskip("dask.distributed")
    from tests.conftest import ROOT

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=300)

    folder = os.path.dirname(taps[0])
    pattern = os.path.join(folder, "tap[0-3].pcap")
    missing = str(tmp_path / "not-shared.pcap")
    serial = cli("export", pattern, missing, "--keys", str(KEYS), "-o", str(tmp_path / "s.json"))
    dask = cli("export", pattern, missing, "--keys", str(KEYS), "--dask", "-o",
               str(tmp_path / "d.json"))
    assert serial.returncode == dask.returncode == 1
    assert dask.stderr.count("\n") == 1 and "not-shared.pcap" in dask.stderr
    assert "Traceback" not in dask.stderr
    assert (tmp_path / "s.json").read_bytes() == (tmp_path / "d.json").read_bytes()
    one = cli("dissect", "--json", pattern, "--keys", str(KEYS))
    two = cli("dissect", "--json", pattern, "--keys", str(KEYS), "--dask")
    assert one.returncode == two.returncode == 0 and one.stdout == two.stdout and one.stdout
    one = cli("decrypt", pattern, "--keys", str(KEYS), "-o", str(tmp_path / "s.pcap"))
    two = cli("decrypt", pattern, "--keys", str(KEYS), "--dask", "-o", str(tmp_path / "d.pcap"))
    assert one.returncode == two.returncode == 0
    assert one.stdout.replace("s.pcap", "d.pcap") == two.stdout and " 0 of " not in one.stdout
    assert (tmp_path / "s.pcap").read_bytes() == (tmp_path / "d.pcap").read_bytes()


def test_a_damaged_tap_is_reported_and_the_rest_completes(taps, tmp_path):
    """A tap cut short: its error under captures[].error, everything before the damage
    and the other taps used - the same with the per-capture part done elsewhere."""
    import shutil

    paths = [str(tmp_path / os.path.basename(p)) for p in taps[:3]]
    for src, dst in zip(taps, paths):
        shutil.copy(src, dst)
    data = open(paths[1], "rb").read()
    with open(paths[1], "wb") as fh:
        fh.write(data[: len(data) * 2 // 3 + 7])  # mid-record
    want = _serial(paths)
    doc = json.loads(want)
    assert doc["captures"][1].get("error") and not doc["captures"][0].get("error")
    assert doc["captures"][1]["packets"] > 0
    run = Session(load_keys(KEYS))
    errors = export_here(paths, run)
    assert errors == [doc["captures"][1]["error"]]
    assert _doc(run) == want
