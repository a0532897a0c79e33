"""Journey figures: a known set of events, a batch of real simulated calls, CSV, SVG and `ivr report`."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta

import pytest

from ivr.cli import cli
from ivr.journeys import charts, report
from ivr.journeys.report import Figures, MenuKeys, NodeCount
from ivr.journeys.tables import events
from ivr.line.simulator import run
from ivr.services import services
from tests.helpers.twilio import TOKEN

SVG = "{http://www.w3.org/2000/svg}"


def known_events() -> list[dict[str, object]]:
    """Four calls over three days, each doing something the figures must show."""
    out: list[dict[str, object]] = []

    def call(key: str, start: datetime, lang: str, steps: list[tuple]) -> None:
        for seconds, event, node, pressed, outcome, duration in steps:
            out.append(
                {
                    "call_key": key,
                    "at": start + timedelta(seconds=seconds),
                    "event": event,
                    "node": node,
                    "lang": None if event == "ended" else lang,
                    "key": pressed,
                    "outcome": outcome,
                    "duration": duration,
                }
            )

    # A: danger, then Refuge answers after 40 s of the call.
    call("a" * 64, datetime(2026, 3, 2, 10), "en-GB", [
        (0, "call_started", "greeting", None, None, None),
        (0, "entered", "greeting", None, None, None),
        (20, "entered", "main_menu", None, None, None),
        (25, "key", "main_menu", "1", None, None),
        (25, "entered", "danger", None, None, None),
        (40, "key", "danger", "1", None, None),
        (40, "entered", "refuge_transfer", None, None, None),
        (40, "transfer_attempted", "refuge_transfer", None, None, None),
        (300, "transfer_answered", "refuge_transfer", None, "completed", None),
        (300, "entered", "goodbye", None, None, None),
        (310, "ended", None, None, "completed", 310),
    ])  # fmt: skip
    # B: a wrong key, then silence until the line gives up.
    call("b" * 64, datetime(2026, 3, 2, 11), "en-GB", [
        (0, "call_started", "greeting", None, None, None),
        (0, "entered", "greeting", None, None, None),
        (20, "entered", "main_menu", None, None, None),
        (30, "invalid", "main_menu", "7", None, None),
        (30, "entered", "main_menu", None, None, None),
        (40, "silence", "main_menu", None, None, None),
        (40, "entered", "main_menu", None, None, None),
        (50, "silence_limit", "main_menu", None, None, None),
        (50, "entered", "help_end", None, None, None),
        (60, "ended", None, None, "completed", 60),
    ])  # fmt: skip
    # C: in Polish; Refuge busy, a second attempt the caller hangs up on.
    call("c" * 64, datetime(2026, 3, 4, 9), "pl", [
        (0, "call_started", "greeting", None, None, None),
        (0, "entered", "greeting", None, None, None),
        (5, "entered", "main_menu", None, None, None),
        (10, "key", "main_menu", "0", None, None),
        (10, "entered", "refuge_transfer", None, None, None),
        (10, "transfer_attempted", "refuge_transfer", None, None, None),
        (40, "transfer_failed", "refuge_transfer", None, "busy", None),
        (40, "entered", "main_menu", None, None, None),
        (50, "key", "main_menu", "0", None, None),
        (50, "entered", "refuge_transfer", None, None, None),
        (50, "transfer_attempted", "refuge_transfer", None, None, None),
        (55, "ended", None, None, "completed", 55),
    ])  # fmt: skip
    # D: hung up during the greeting; no status callback arrived.
    call("d" * 64, datetime(2026, 3, 4, 23, 59), "en-GB", [
        (0, "call_started", "greeting", None, None, None),
        (0, "entered", "greeting", None, None, None),
    ])  # fmt: skip
    return out


def as_rows(dicts: list[dict[str, object]]) -> list[tuple]:
    ordered = sorted(enumerate(dicts), key=lambda p: (p[1]["call_key"], p[1]["at"], p[0]))
    return [tuple(d[c] for c in report.COLUMNS) for _, d in ordered]


def check_known(figs: Figures) -> None:
    assert figs.calls == 4
    assert figs.events == 35
    assert figs.calls_per_day == [(date(2026, 3, 2), 2), (date(2026, 3, 3), 0), (date(2026, 3, 4), 2)]
    reached = {n.node: n.reached for n in figs.nodes}
    assert reached == {
        "greeting": 4,
        "main_menu": 3,
        "danger": 1,
        "refuge_transfer": 2,
        "goodbye": 1,
        "help_end": 1,
    }
    assert {n.node: n.ended for n in figs.nodes if n.ended} == {
        "greeting": 1,
        "goodbye": 1,
        "help_end": 1,
        "refuge_transfer": 1,
    }
    assert sorted(figs.edges) == sorted(
        [
            ("greeting", "main_menu", 3),
            ("main_menu", "danger", 1),
            ("danger", "refuge_transfer", 1),
            ("refuge_transfer", "goodbye", 1),
            ("main_menu", "help_end", 1),
            ("main_menu", "refuge_transfer", 2),
            ("refuge_transfer", "main_menu", 1),
        ]
    )
    menus = {m.node: m for m in figs.menus}
    assert menus["main_menu"] == MenuKeys("main_menu", {"1": 1, "0": 2}, {"7": 1}, silences=2, gave_up=1)
    assert menus["danger"] == MenuKeys("danger", {"1": 1})
    assert set(menus) == {"main_menu", "danger"}
    assert figs.transfers_attempted == 3
    assert figs.calls_with_transfer == 2
    assert figs.transfer_outcomes == {"answered": 1, "busy": 1, "no outcome": 1}
    assert sorted(figs.seconds_to_first_transfer) == [10, 40]
    assert figs.median_seconds_to_first_transfer == 25
    assert figs.end_statuses == {"completed": 3}
    assert figs.median_call_seconds == 60
    assert figs.languages == {"en-GB": 3, "pl": 1}
    assert figs.share(2) == 0.5


def test_figures_from_known_events() -> None:
    check_known(report.from_rows(as_rows(known_events())))


def test_nodes_follow_the_flow_order_when_given(flow) -> None:
    figs = report.from_rows(as_rows(known_events()), flow=flow)
    expected = [node for node in flow.nodes if node in {n.node for n in figs.nodes}]
    assert [n.node for n in figs.nodes] == expected
    assert [m.node for m in figs.menus] == ["main_menu", "danger"]
    without = report.from_rows(as_rows(known_events()))
    assert [n.node for n in without.nodes][:3] == ["greeting", "main_menu", "refuge_transfer"]


def store_events(app, dicts: list[dict[str, object]]) -> None:
    store = services(app).journeys
    store.ensure_schema()
    with store.engine.begin() as connection:
        connection.execute(events.insert(), dicts)


def test_figures_from_the_database(journey_app) -> None:
    store_events(journey_app, known_events())
    engine = services(journey_app).engine
    check_known(report.figures(engine))
    first_day = report.figures(engine, since=date(2026, 3, 1), until=date(2026, 3, 2))
    assert first_day.calls == 2 and first_day.languages == {"en-GB": 2}
    assert first_day.calls_per_day == [(date(2026, 3, 1), 0), (date(2026, 3, 2), 2)]
    later = report.figures(engine, since=date(2026, 3, 3))
    assert later.calls == 2 and later.transfers_attempted == 2
    assert report.figures(engine, since=date(2026, 4, 1)).calls == 0


def test_a_call_across_midnight_counts_whole_on_the_day_it_started(journey_app) -> None:
    late = [e for e in known_events() if e["call_key"] == "d" * 64]
    ended = {"event": "ended", "node": None, "lang": None, "outcome": "completed", "duration": 120}
    late.append({**late[-1], **ended, "at": datetime(2026, 3, 5, 0, 1)})
    store_events(journey_app, late)
    engine = services(journey_app).engine
    day = report.figures(engine, since=date(2026, 3, 4), until=date(2026, 3, 4))
    assert day.calls == 1 and day.events == 3 and day.end_statuses == {"completed": 1}
    assert report.figures(engine, since=date(2026, 3, 5)).calls == 0


def test_figures_of_an_empty_database(journey_app) -> None:
    figs = report.figures(services(journey_app).engine)
    assert figs.calls == 0 and figs.nodes == [] and figs.median_seconds_to_first_transfer is None
    assert "No calls" in report.to_text(figs)
    for chart in (charts.svg_funnel, charts.svg_flow, charts.svg_calls_per_day, charts.svg_menus):
        svg = chart(figs)
        assert "no calls yet" in svg and ET.fromstring(svg).tag == SVG + "svg"


def test_report_matches_a_batch_of_simulated_calls(journey_app, flow) -> None:
    journeys = [
        ["1", "1", "1", "answered"],  # English, danger, then Refuge answers
        ["1", "2", "2"],  # English, help menu, Refuge's number
        [".", ".", ".", ".", ".", "."],  # English by silence, then silence until the line gives up
        ["0", "busy"],  # 0 during the greeting: Refuge is busy, back to the menu
        ["1", "3", "1"],  # English, report, to the police
        ["1", "8", "8", "8"],  # English, then wrong keys until the line gives up
    ]
    for keys in journeys:
        call = run(journey_app, keys, token=TOKEN)
        assert all(turn.status == 200 for turn in call.turns)
        call.hang_up(20)
    store = services(journey_app).journeys
    assert store.flush(10)
    figs = report.figures(store.engine, flow=flow)
    assert figs.calls == 6
    reached = {n.node: n.reached for n in figs.nodes}
    assert reached["greeting"] == reached["main_menu"] == 6
    assert reached["refuge_transfer"] == 2 and reached["help_end"] == 2
    assert {n.node: n.ended for n in figs.nodes if n.ended} == {
        "goodbye": 1,
        "help_refuge": 1,
        "help_end": 2,
        "main_menu": 1,
        "report_police": 1,
    }
    menus = {m.node: m for m in figs.menus}
    assert menus["main_menu"].keys == {"1": 1, "2": 1, "3": 1}
    assert menus["main_menu"].invalid == {"8": 3}
    assert menus["main_menu"].silences == 3 and menus["main_menu"].gave_up == 2
    assert menus["greeting"].keys == {"0": 1}
    assert figs.transfers_attempted == 2 and figs.transfer_outcomes == {"answered": 1, "busy": 1}
    assert figs.end_statuses == {"completed": 6} and figs.median_call_seconds == 20
    assert figs.languages == {"en-GB": 6}
    assert figs.calls_per_day == [(figs.calls_per_day[0][0], 6)]

    result = journey_app.test_cli_runner().invoke(cli, ["report", "--csv"])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.output)))
    value = {(r["figure"], r["item"], r["detail"]): r["value"] for r in table}
    assert value[("calls", "all", "")] == "6"
    assert value[("node_reached", "refuge_transfer", "calls")] == "2"
    assert value[("node_reached", "refuge_transfer", "share")] == "0.3333"
    assert value[("node_ended", "help_end", "calls")] == "2"
    assert value[("menu_invalid_key", "main_menu", "8")] == "3"
    assert value[("transfer_outcome", "busy", "")] == "1"
    assert value[("flow_edge", "greeting", "language_menu")] == "5"


def test_csv_has_every_figure_and_defuses_formulas() -> None:
    figs = report.from_rows(as_rows(known_events()))
    table = list(csv.reader(io.StringIO(report.to_csv(figs))))
    assert table[0] == ["figure", "item", "detail", "value"]
    figures_named = {row[0] for row in table[1:]}
    assert {
        "calls_per_day",
        "node_reached",
        "node_ended",
        "flow_edge",
        "menu_key",
        "menu_invalid_key",
        "menu_silences",
        "transfers",
        "transfer_outcome",
        "median_seconds_to_first_transfer",
        "language",
    } <= figures_named
    assert ["median_seconds_to_first_transfer", "", "", "25.0"] in table
    assert ["calls_per_day", "2026-03-03", "", "0"] in table
    hostile = Figures(None, None, calls=1, nodes=[NodeCount("=HYPERLINK(1)", 1, 1)])
    rows = list(csv.reader(io.StringIO(report.to_csv(hostile))))
    assert ["node_reached", "'=HYPERLINK(1)", "calls", "1"] in rows


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    return ["".join(e.itertext()) for e in root.iter(SVG + "text")]


def test_svg_charts_show_the_counts() -> None:
    figs = report.from_rows(as_rows(known_events()))
    funnel = texts(charts.svg_funnel(figs))
    assert "greeting" in funnel and "4 (100%), ended here 1" in funnel
    assert "3 (75%), ended here 0" in funnel
    flow = texts(charts.svg_flow(figs))
    assert "greeting (4)" in flow and "main_menu (3)" in flow and "3" in flow
    days = texts(charts.svg_calls_per_day(figs))
    assert "02 Mar" in days and "04 Mar" in days
    menus = texts(charts.svg_menus(figs))
    assert "main_menu" in menus and "0:2 1:1 | wrong 1 | silent 2" in menus
    bars = texts(charts.svg_bars(figs.transfer_outcomes.items(), title="Transfer outcomes"))
    assert bars[0] == "Transfer outcomes" and "no outcome" in bars and "1" in bars


@pytest.mark.parametrize("label", ["<script>alert(1)</script>", 'a"b', "x & y", "]]>"])
def test_svg_escapes_every_label(label: str) -> None:
    figs = Figures(
        None,
        None,
        calls=2,
        calls_per_day=[(date(2026, 1, 1), 2)],
        nodes=[NodeCount(label, 2, 1), NodeCount("next", 1, 1)],
        edges=[(label, "next", 1)],
        menus=[MenuKeys(label, {"1": 2}, {"9": 1}, silences=1)],
    )
    for svg in (
        charts.svg_funnel(figs),
        charts.svg_flow(figs),
        charts.svg_bars([(label, 3)], title=label),
        charts.svg_calls_per_day(figs),
        charts.svg_menus(figs),
    ):
        root = ET.fromstring(svg)
        assert not [e for e in root.iter() if e.tag.endswith("script")]
        if label in ("<script>alert(1)</script>", "x & y"):
            assert label not in svg
    assert label in texts(charts.svg_bars([(label, 3)], title="t"))


def test_report_cli(journey_app) -> None:
    store_events(journey_app, known_events())
    runner = journey_app.test_cli_runner()
    result = runner.invoke(cli, ["report", "--since", "2026-03-01", "--until", "2026-03-04"])
    assert result.exit_code == 0, result.output
    assert "2026-03-01 to 2026-03-04: 4 call(s), 35 event(s)" in result.output
    assert "Transfers: 3 attempted in 2 call(s) (50.0% of calls)" in result.output
    assert "median time from answer to first transfer: 25 s" in result.output
    assert "main_menu" in result.output and "invalid 7:1" in result.output
    result = runner.invoke(cli, ["report", "--since", "2026-03-03"])
    assert "2 call(s)" in result.output
    result = runner.invoke(cli, ["report", "--since", "March"])
    assert result.exit_code != 0 and "not a date" in result.output
