"""Recording measurements, medians over rounds, ratios, the stdout tables and the JSON file."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import Metrics, median
from bench.settings import SCENARIOS, Settings

IN_PROCESS = "in-process"

#: (scenario, metric, label, higher_is_better) shown per transport, ratios included
RATED: list[tuple[str, str, str, bool]] = [
    ("throughput", "complete_per_s", "completed/s", True),
    ("throughput", "enqueue_per_s", "enqueued/s", True),
    ("roundtrip", "p50_ms", "p50 ms", False),
    ("roundtrip", "p99_ms", "p99 ms", False),
    ("parallel", "complete_per_s", "completed/s", True),
    ("parallel", "enqueue_per_s", "enqueued/s", True),
    ("chord", "seconds", "completion s", False),
    ("chain", "seconds", "completion s", False),
]
#: shown in the absolute table only
UNRATED: list[tuple[str, str, str]] = [
    ("throughput", "redis_cmds_per_task", "redis cmds/task"),
    ("roundtrip", "redis_cmds_per_task", "redis cmds/call"),
    ("parallel", "redis_cmds_per_task", "redis cmds/task"),
    ("chord", "submit_s", "call returned s"),
    ("chord", "complete_per_s", "invocations/s"),
    ("chord", "redis_cmds_per_task", "redis cmds/task"),
    ("chain", "submit_s", "call returned s"),
    ("chain", "ms_per_step", "ms/step"),
    ("chain", "redis_cmds_per_task", "redis cmds/step"),
]
#: sync rows: (label, pynenc metric, the Celery eager metric it is compared with); the
#: other column compares with a plain function call
SYNC_PAIRS: list[tuple[str, str, str]] = [
    ("direct_task vs delay().get()", "direct_task_us", "delay_get_us"),
    ("task().result vs apply().get()", "task_result_us", "apply_get_us"),
]
SYNC_LABELS: dict[tuple[str, str], str] = {
    ("pynenc", "direct_task_us"): "pynenc direct_task, dev_mode_force_sync_tasks",
    ("pynenc", "task_result_us"): "pynenc task(1, 2).result, dev_mode_force_sync_tasks",
    ("celery", "delay_get_us"): "Celery add.delay(1, 2).get(), task_always_eager",
    ("celery", "apply_get_us"): "Celery add.apply((1, 2)).get()",
    ("celery", "call_us"): "Celery add(1, 2) (task __call__)",
    ("plain", "call_us"): "plain function call",
}


@dataclass
class Record:
    transport: str
    system: str
    scenario: str
    round: int
    status: str  # ok | timeout | error | skipped | unavailable
    metrics: Metrics = field(default_factory=dict)
    detail: str = ""


class Report:
    """Everything measured in one run, and how to show it."""

    def __init__(self, settings: Settings, machine: dict[str, Any]) -> None:
        self.settings = settings
        self.machine = machine
        self.records: list[Record] = []
        self.started = dt.datetime.now(dt.UTC)

    # -- recording ---------------------------------------------------------------------------

    def say(self, line: str) -> None:
        print(line, flush=True)

    def measured(
        self, transport: str, system: str, scenario: str, round_no: int, metrics: Metrics
    ) -> None:
        self.records.append(Record(transport, system, scenario, round_no, "ok", metrics))
        hidden = ("tasks", "calls", "ours_cpu_pct", "steal_pct")
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in metrics.items() if k not in hidden)
        self.say(f"   round {round_no + 1} {scenario:<10} {system:<8} {shown}")

    def failed(
        self, transport: str, system: str, scenario: str, round_no: int, status: str, why: str
    ) -> None:
        self.records.append(Record(transport, system, scenario, round_no, status, detail=why))
        self.say(f"   round {round_no + 1} {scenario:<10} {system:<8} {status}: {why}")

    def unavailable(self, transport: str, system: str, reason: str, scenario: str = "*") -> None:
        """``system`` cannot run on ``transport`` (``scenario`` "*") or cannot run
        ``scenario`` there."""
        record = Record(transport, system, scenario, -1, "unavailable", detail=reason)
        self.records.append(record)
        self.say(f"   {_missing_line(record)}")

    # -- aggregation -------------------------------------------------------------------------

    def medians(self) -> dict[tuple[str, str, str], Metrics]:
        """(transport, system, scenario) -> median of each metric over the rounds that ran."""
        samples: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for record in self.records:
            if record.status == "ok":
                key = (record.transport, record.system, record.scenario)
                for metric, value in record.metrics.items():
                    samples[key][metric].append(value)
        return {
            key: {metric: median(values) for metric, values in metrics.items()}
            for key, metrics in samples.items()
        }

    def statuses(self, transport: str, system: str, scenario: str) -> list[str]:
        return [
            r.status
            for r in self.records
            if (r.transport, r.system) == (transport, system) and r.scenario in (scenario, "*")
        ]

    def ratios(self) -> list[dict[str, Any]]:
        """How many times better pynenc is than each comparator (> 1: pynenc ahead)."""
        medians = self.medians()
        out: list[dict[str, Any]] = []
        for scenario, metric, label, higher in RATED:
            for transport in self.settings.transports:
                mine = medians.get((transport, "pynenc", scenario), {}).get(metric)
                for versus in _PEERS:
                    theirs = medians.get((transport, versus, scenario), {}).get(metric)
                    if mine and theirs:
                        ratio = mine / theirs if higher else theirs / mine
                        item = _ratio(scenario, label, transport, versus, mine, theirs, ratio)
                        out.append({**item, "key": metric, "higher_is_better": higher})
        sync = {system: medians.get((IN_PROCESS, system, "sync"), {}) for system in _SYNC_SYSTEMS}
        for label, metric, celery_metric in SYNC_PAIRS:
            mine = sync["pynenc"].get(metric)
            for versus, theirs in (
                ("celery", sync["celery"].get(celery_metric)),
                ("plain", sync["plain"].get("call_us")),
            ):
                if mine and theirs:
                    ratio = theirs / mine
                    item = _ratio("sync", label, IN_PROCESS, versus, mine, theirs, ratio)
                    out.append({**item, "key": metric, "higher_is_better": False})
        return out

    def compat_ratios(self) -> list[dict[str, Any]]:
        """How many times better the Celery layer (``compat``) is than native pynenc and
        than Celery, on the metrics it has (> 1: compat ahead; < 1: what the layer costs)."""
        medians = self.medians()
        out: list[dict[str, Any]] = []
        for scenario, metric, label, higher in RATED:
            for transport in self.settings.transports:
                mine = medians.get((transport, "compat", scenario), {}).get(metric)
                for versus in ("pynenc", "celery"):
                    theirs = medians.get((transport, versus, scenario), {}).get(metric)
                    if mine and theirs:
                        ratio = mine / theirs if higher else theirs / mine
                        item = _ratio(scenario, label, transport, versus, mine, theirs, ratio)
                        del item["pynenc"]
                        item["compat"] = mine
                        out.append({**item, "key": metric, "higher_is_better": higher})
        return out

    # -- output ------------------------------------------------------------------------------

    def tables(self) -> str:
        lines = [_ratio_table(self.ratios(), self.settings.rounds), ""]
        compat = self.compat_ratios()
        if compat:
            lines[1:1] = ["", _compat_table(compat, self.settings.rounds)]
        load = self.background_load()
        if load:
            lines.insert(0, load + "\n")
        lines.append(self._absolute_table())
        lines.extend(table for table in (self._chain_steps(), self._sync_table()) if table)
        missing = [r for r in self.records if r.status == "unavailable"]
        if missing:
            lines.append("\nNOT MEASURED")
            lines.extend(f"  {_missing_line(r)}" for r in missing)
        return "\n".join(lines)

    def background_load(self) -> str:
        """A line saying how much CPU other processes took while we measured."""
        others = [
            r.metrics["others_cpu_pct"] for r in self.records if "others_cpu_pct" in r.metrics
        ]
        if not others:
            return ""
        line = (
            f"MACHINE: processes outside this bench used {median(others):.0f} % of the CPUs "
            f"during a median measurement (max {max(others):.0f} %)"
        )
        if median(others) >= 10:
            line += " — absolute figures are low and noisy; compare ratios"
        return line

    def _absolute_table(self) -> str:
        medians = self.medians()
        systems = ("pynenc", "celery", "kombu")
        systems += tuple(s for s in ("dramatiq", "compat") if s in self.settings.systems)
        rows: list[tuple[str, ...]] = [("transport", "scenario", "metric", *systems)]
        shown = [(s, m, label) for s, m, label, _ in RATED] + UNRATED
        shown.sort(key=lambda row: SCENARIOS.index(row[0]))  # stable: a scenario's rows together
        for transport in self.settings.transports:
            for scenario, metric, label in shown:
                if scenario not in self.settings.scenarios:
                    continue
                cells = [
                    self._cell(medians, transport, system, scenario, metric) for system in systems
                ]
                if any(cells):
                    rows.append((transport, scenario, label, *(c or "" for c in cells)))
        title = f"ABSOLUTE (medians of up to {self.settings.rounds} rounds; n={self.settings.n},"
        title += f" round trips={self.settings.roundtrips}; * = some rounds failed)"
        return title + "\n" + _columns(rows, right_from=3)

    def _cell(
        self, medians: dict[tuple[str, str, str], Metrics], t: str, system: str, s: str, m: str
    ) -> str | None:
        value = medians.get((t, system, s), {}).get(m)
        statuses = self.statuses(t, system, s)
        if value is not None:
            # a star: some rounds failed, the median is over fewer rounds (see the JSON)
            return _fmt(value) + ("*" if any(x != "ok" for x in statuses) else "")
        if not statuses or m == "redis_cmds_per_task":
            return None
        return "n/a" if "unavailable" in statuses else statuses[-1]

    def _chain_steps(self) -> str:
        """A chain's latency per step against the same system's plain round trip."""
        medians = self.medians()
        lines = []
        for transport in self.settings.transports:
            for system in ("pynenc", "celery", "dramatiq", "compat"):
                step = medians.get((transport, system, "chain"), {}).get("ms_per_step")
                call = medians.get((transport, system, "roundtrip"), {}).get("p50_ms")
                if step and call:
                    lines.append(
                        f"  {transport:<9} {system:<8} {_fmt(step)} ms per chain step = "
                        f"{step / call:.2f} x its round trip p50 ({_fmt(call)} ms)"
                    )
        if not lines:
            return ""
        return "\nCHAIN STEP vs ROUND TRIP (medians)\n" + "\n".join(lines)

    def _sync_table(self) -> str:
        medians = self.medians()
        rows: list[tuple[str, ...]] = [("variant (add(1, 2))", "µs/call")]
        for (system, metric), label in SYNC_LABELS.items():
            value = medians.get((IN_PROCESS, system, "sync"), {}).get(metric)
            if value is not None:
                rows.append((label, _fmt(value)))
        if len(rows) == 1:
            return ""
        return "\nSYNC / EAGER MODE (in-process)\n" + _columns(rows, right_from=1)

    def to_json(self, path: Path, descriptions: dict[str, str]) -> None:
        medians = self.medians()
        data = {
            "started_at": self.started.isoformat(timespec="seconds"),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": sys.argv,
            "machine": self.machine,
            "settings": self.settings.as_dict(),
            "systems": descriptions,
            "ratios": self.ratios(),
            "compat_ratios": self.compat_ratios(),
            "medians": [
                {
                    "transport": t,
                    "system": system,
                    "scenario": s,
                    "metrics": metrics,
                    "statuses": self.statuses(t, system, s),
                }
                for (t, system, s), metrics in sorted(medians.items())
            ],
            "records": [asdict(r) for r in self.records],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")


_SYNC_SYSTEMS = ("pynenc", "celery", "plain")
#: the systems pynenc is rated against on every transport, in the ratio table's order
_PEERS = ("celery", "dramatiq", "kombu")


def _missing_line(record: Record) -> str:
    prefix = "not available yet" if record.system in ("pynenc", "compat") else "not available"
    what = "" if record.scenario == "*" else f" {record.scenario}"
    return f"{record.system}{what} on {record.transport}: {prefix}: {record.detail}"


def _ratio(
    scenario: str, metric: str, transport: str, versus: str, mine: float, theirs: float, r: float
) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "metric": metric,
        "transport": transport,
        "versus": versus,
        "pynenc": mine,
        "other": theirs,
        "times_better": r,
    }


def _ratio_table(ratios: list[dict[str, Any]], rounds: int) -> str:
    cells: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    for item in ratios:
        key = (item["scenario"], item["metric"], item["transport"])
        cells[key][item["versus"]] = f"{item['times_better']:.2f}x"
    # the dramatiq column only when dramatiq was compared: a run without it reads as before
    peers = ["celery", *(["dramatiq"] if any("dramatiq" in by for by in cells.values()) else [])]
    header = ["vs Celery", "vs dramatiq"][: len(peers)]
    rows: list[tuple[str, ...]] = [
        ("scenario", "metric", "transport", *header, "vs raw kombu / plain call")
    ]
    for (scenario, metric, transport), by in cells.items():
        other = by.get("kombu") or by.get("plain") or ""
        rows.append((scenario, metric, transport, *(by.get(p, "") for p in peers), other))
    title = (
        f"RATIOS — how many times better pynenc is (rates: pynenc/other; latencies and µs: "
        f"other/pynenc; above 1x pynenc is ahead). Medians of {rounds} interleaved round(s)."
    )
    if len(rows) == 1:
        return title + "\n  (nothing to compare: no pair of systems measured on one transport)"
    table = title + "\n" + _columns(rows, right_from=3)
    if any(row[0] == "sync" for row in rows):
        table += (
            "\n  sync: µs per call in dev sync mode vs Celery task_always_eager, and vs a "
            "plain function call (last column)"
        )
    return table


def _compat_table(ratios: list[dict[str, Any]], rounds: int) -> str:
    cells: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    for item in ratios:
        key = (item["scenario"], item["metric"], item["transport"])
        cells[key][item["versus"]] = f"{item['times_better']:.2f}x"
    rows: list[tuple[str, ...]] = [("scenario", "metric", "transport", "vs pynenc", "vs Celery")]
    for (scenario, metric, transport), by in cells.items():
        rows.append((scenario, metric, transport, by.get("pynenc", ""), by.get("celery", "")))
    title = (
        "COMPAT — the Celery layer (pynenc_celery_compat: delay()/get() on a pynenc runner), "
        "how many times better it is than native pynenc and than Celery (same convention: "
        f"below 1x vs pynenc is what the layer costs). Medians of {rounds} round(s)."
    )
    return title + "\n" + _columns(rows, right_from=3)


def _columns(rows: list[tuple[str, ...]], right_from: int) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [
            cell.rjust(width) if i >= right_from else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  " + "  ".join(cells).rstrip())
    return "\n".join(out)


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"
