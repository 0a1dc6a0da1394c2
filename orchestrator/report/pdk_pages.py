"""The per-PDK history pages (``history/<pdk>/index.html``): the cross-design comparison plots and
trend that ``site`` planned, and the list of the PDK's designs with their latest passing runs."""

from __future__ import annotations

from orchestrator.record import RunRecord
from orchestrator.report.pages import SiteView
from orchestrator.report.view import slug


def write_pages(site: SiteView) -> None:
    """Per PDK: the cross-design comparison and the list of designs."""
    by_pdk: dict[str, list[tuple[str, list[RunRecord]]]] = {}
    for (pdk, design), group in sorted(site.groups.items()):
        by_pdk.setdefault(pdk, []).append((design, group))
    for pdk, designs in by_pdk.items():
        platform = site.platforms.get(pdk)
        entries = []
        for design, group in designs:
            passing_runs = [r for r in group if r.status == "pass"]
            entries.append({
                "design": design,
                "href": f"{slug(design)}/index.html",
                "runs": len(group),
                "passing": len(passing_runs),
                "first": group[0].timestamp,
                "last": group[-1].timestamp,
                "latest": passing_runs[-1] if passing_runs else None,
                "latest_href": site.run_href(passing_runs[-1], "../../") if passing_runs else None,
            })
        site.write_page(
            f"history/{slug(pdk)}/index.html", "pdk.html",
            pdk=pdk, platform=platform, designs=entries,
            comparisons=site.plot_pages.get((pdk, ""), []),
            trend=(site.plot_pages.get((pdk, "trend")) or [None])[0],
        )
