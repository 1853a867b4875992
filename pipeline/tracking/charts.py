"""Charts of the reports, as SVG or PNG files, made with Altair (Vega-Lite) and rendered
by vl-convert (its own Vega engine: no browser, no network).

- ``edition_chart``: human and machine opens and clicks per hour over the first 72 hours
  of an issue, above the human clicks per link;
- ``newsletter_chart``: the list's growth per week (new confirmed, unsubscribed, bounced,
  net), beside the open and click rates of recent issues.

The Vega-Lite specification (``*_spec``) can be embedded in web pages later as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import TrackingError
from pipeline.tracking.stats import EditionStats, HourPoint, WeekGrowth

FORMATS = (".svg", ".png")
WIDTH = 560


def _check_target(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise TrackingError(
            f"cannot write a chart to {path.name}: unknown format {suffix or '(none)'}",
            fix="name the file .svg or .png, e.g. --chart stats.svg",
        )
    return suffix


def _write(spec: dict[str, Any], path: Path) -> Path:
    import vl_convert

    suffix = _check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".svg":
        path.write_text(vl_convert.vegalite_to_svg(spec), encoding="utf-8")
    else:
        path.write_bytes(vl_convert.vegalite_to_png(spec, scale=2))
    return path


def edition_spec(stats: EditionStats, timeline: Sequence[HourPoint]) -> dict[str, Any]:
    """The Vega-Lite specification of an issue's chart."""
    import altair as alt

    series = {
        "human_opens": "Opens (people)",
        "human_clicks": "Clicks (people)",
        "machine_opens": "Opens (machines)",
        "machine_clicks": "Clicks (machines)",
    }
    points = [
        {"hour": p.hour, "series": label, "count": getattr(p, key)}
        for p in timeline
        for key, label in series.items()
    ]
    over_time = (
        alt.Chart(alt.Data(values=points), title="Opens and clicks, first 72 hours")
        .mark_line(point=False)
        .encode(
            x=alt.X("hour:Q", title="Hours after sending", scale=alt.Scale(domain=[0, 72])),
            y=alt.Y("count:Q", title="Events per hour"),
            color=alt.Color("series:N", title=None, sort=list(series.values())),
            strokeDash=alt.StrokeDash("series:N", legend=None, sort=list(series.values())),
        )
        .properties(width=WIDTH, height=220)
    )
    links = [
        {
            "link": f"{link.index}. {(link.text or link.url)[:40]}",
            "people": link.unique_clicks,
            "machines": link.machine_clicks,
        }
        for link in stats.links
        if link.kind != "honeypot"
    ]
    per_link = (
        alt.Chart(alt.Data(values=links), title="Clicks per link (unique people)")
        .mark_bar()
        .encode(
            y=alt.Y("link:N", title=None, sort=None),
            x=alt.X("people:Q", title="People who clicked"),
            tooltip=["link:N", "people:Q", "machines:Q"],
        )
        .properties(width=WIDTH, height=max(40, 18 * len(links)))
    )
    chart = alt.vconcat(over_time, per_link).properties(title=f"{stats.slug}: {stats.subject}")
    return dict(chart.to_dict())


def newsletter_spec(recent: Sequence[EditionStats], growth: Sequence[WeekGrowth]) -> dict[str, Any]:
    """The Vega-Lite specification of the newsletter's chart."""
    import altair as alt

    weeks = [
        {"week": w.week, "measure": label, "people": value}
        for w in growth
        for label, value in (
            ("New confirmed", w.confirmed),
            ("Unsubscribed", -w.unsubscribed),
            ("Bounced", -w.bounced),
        )
    ]
    nets = [{"week": w.week, "net": w.net} for w in growth]
    bars = (
        alt.Chart(alt.Data(values=weeks))
        .mark_bar()
        .encode(
            x=alt.X("week:O", title="Week starting"),
            y=alt.Y("people:Q", title="People"),
            color=alt.Color("measure:N", title=None),
        )
    )
    net = (
        alt.Chart(alt.Data(values=nets))
        .mark_line(point=True, color="black")
        .encode(x="week:O", y=alt.Y("net:Q", title="People"))
    )
    growth_chart = alt.layer(bars, net).properties(
        width=WIDTH, height=220, title="List growth per week (line: net)"
    )
    rates = [
        {"issue": s.slug, "rate": label, "value": s.rates[key]}
        for s in reversed(list(recent))
        for key, label in (("opens", "Open rate (people)"), ("clicks", "Click rate (people)"))
    ]
    issues = (
        alt.Chart(alt.Data(values=rates), title="Recent issues")
        .mark_bar()
        .encode(
            x=alt.X("issue:N", title=None, sort=None),
            xOffset="rate:N",
            y=alt.Y("value:Q", title="Share of messages", axis=alt.Axis(format="%")),
            color=alt.Color("rate:N", title=None),
        )
        .properties(width=WIDTH, height=220)
    )
    return dict(alt.vconcat(growth_chart, issues).resolve_scale(color="independent").to_dict())


def write_edition_chart(path: Path, stats: EditionStats, timeline: Sequence[HourPoint]) -> Path:
    """Write the issue's chart to ``path`` (.svg or .png)."""
    _check_target(path)
    return _write(edition_spec(stats, timeline), path)


def write_newsletter_chart(
    path: Path, recent: Sequence[EditionStats], growth: Sequence[WeekGrowth]
) -> Path:
    """Write the newsletter's chart to ``path`` (.svg or .png)."""
    _check_target(path)
    return _write(newsletter_spec(recent, growth), path)


def edition_svg(stats: EditionStats, timeline: Sequence[HourPoint]) -> str:
    """The issue's chart as SVG text (the studio's results page serves it)."""
    import vl_convert

    return str(vl_convert.vegalite_to_svg(edition_spec(stats, timeline)))


def newsletter_svg(recent: Sequence[EditionStats], growth: Sequence[WeekGrowth]) -> str:
    """The newsletter's chart as SVG text."""
    import vl_convert

    return str(vl_convert.vegalite_to_svg(newsletter_spec(recent, growth)))
