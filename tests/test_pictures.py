"""The run page's own pictures: the DEF reader, the figures behind each picture (placement density,
routing usage per GCell, clock-tree levels, global routing's reports), the drawings themselves on
the DEFs of a real small run (tests/fixtures/pictures), and how the site shows them: at the top of
the run page, as thumbnails linking to full-size PNGs, with the file list grouped by step."""

from __future__ import annotations

import gzip
import io
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from orchestrator.report import ArtifactRoots, build_site
from orchestrator.report import pictures as pic
from orchestrator.report.def_file import DefError, decode, parse_def, read_def
from orchestrator.report.view import slug
from tests.synthetic_history import PICTURE_FIXTURES, routed_record

Image = pytest.importorskip("PIL.Image", reason="Pillow not installed (comes with matplotlib)")

# Shaped like OpenROAD's DEF: 1000 units per µm, a 20 x 10 µm die, two GCells of 10 x 10 µm.
SMALL_DEF = textwrap.dedent("""\
    VERSION 5.8 ;
    DESIGN tiny ;
    UNITS DISTANCE MICRONS 1000 ;
    DIEAREA ( 0 0 ) ( 20000 10000 ) ;
    TRACKS Y 500 DO 10 STEP 1000 LAYER metal3 ;
    TRACKS X 500 DO 20 STEP 1000 LAYER metal3 ;
    TRACKS X 500 DO 20 STEP 1000 LAYER metal2 ;
    GCELLGRID X 0 DO 3 STEP 10000 ;
    GCELLGRID Y 0 DO 2 STEP 10000 ;
    COMPONENTS 4 ;
        - clkbuf_0 CLKBUF_X1 + PLACED ( 1000 2000 ) N ;
        - r1 DFF_X1 + SOURCE DIST + PLACED ( 5000 2000 ) FS ;
        - r2 DFF_X1 + PLACED ( 15000 2000 ) N ;
        - fill FILLCELL_X1 + FIXED ( 9000 0 ) N ;
    END COMPONENTS
    PINS 1 ;
        - clk + NET clk + DIRECTION INPUT + USE CLOCK + PORT + LAYER metal3 ( -70 0 ) ( 70 140 ) + PLACED ( 0 5000 ) N ;
    END PINS
    SPECIALNETS 1 ;
        - VDD ( * VDD ) + USE POWER + ROUTED metal1 340 + SHAPE FOLLOWPIN ( 0 0 ) ( 20000 0 ) ;
    END SPECIALNETS
    NETS 3 ;
        - clk ( PIN clk ) ( clkbuf_0 A ) + USE CLOCK ;
        - clknet_0 ( clkbuf_0 Z ) ( r1 CK ) ( r2 CK + SYNTHESIZED ) + USE CLOCK
          + ROUTED metal3 ( 1000 2500 ) ( 15000 * ) via2 NEW metal2 ( 5000 2500 0 ) ( * 8500 )
          NEW metal3 ( 15000 2500 ) RECT ( -70 -70 70 70 ) ;
        - d ( r1 Q ) ( r2 D ) + ROUTED metal3 ( 2000 7500 ) ( 4000 * ) VIRTUAL ( 6000 7500 ) ( 7000 * ) ;
    END NETS
    END DESIGN
    """)


def test_def_reader_takes_what_the_pictures_draw_and_skips_special_nets():
    layout = parse_def(SMALL_DEF)
    assert (layout.design, layout.dbu, layout.die) == ("tiny", 1000, (0, 0, 20000, 10000))
    assert layout.routing_layers == ["metal3", "metal2"]
    assert layout.gcell_grid == {"X": [(0, 3, 10000)], "Y": [(0, 2, 10000)]}
    assert {name: (c.macro, c.x, c.y, c.orient) for name, c in layout.components.items()} == {
        "clkbuf_0": ("CLKBUF_X1", 1000, 2000, "N"), "r1": ("DFF_X1", 5000, 2000, "FS"),
        "r2": ("DFF_X1", 15000, 2000, "N"), "fill": ("FILLCELL_X1", 9000, 0, "N")}
    assert layout.pins == {"clk": (0, 5000)}
    nets = {net.name: net for net in layout.nets}
    assert set(nets) == {"clk", "clknet_0", "d"}  # VDD is a special net
    clock = nets["clknet_0"]
    assert clock.use == "CLOCK" and clock.pins == [("clkbuf_0", "Z"), ("r1", "CK"), ("r2", "CK")]
    # "*" repeats the previous coordinate, a third number is a wire extension, RECT patches and
    # a lone point make no wire, a via between points is counted.
    assert clock.wires == [("metal3", 1000, 2500, 15000, 2500), ("metal2", 5000, 2500, 5000, 8500)]
    assert clock.vias == 1
    # VIRTUAL: no metal between (4000, 7500) and (6000, 7500).
    assert nets["d"].wires == [("metal3", 2000, 7500, 4000, 7500), ("metal3", 6000, 7500, 7000, 7500)]


def test_gzipped_def_is_read_and_one_that_inflates_past_the_bound_is_refused(tmp_path):
    path = tmp_path / "tiny.def.gz"
    path.write_bytes(gzip.compress(SMALL_DEF.encode()))
    assert read_def(path).design == "tiny"
    with pytest.raises(DefError, match="larger than"):
        decode(gzip.compress(b" " * (3 << 20)), limit=1 << 20)
    with pytest.raises(DefError, match="gzip"):
        decode(b"\x1f\x8bnot gzip at all", limit=1 << 20)


def test_routing_usage_is_wire_length_over_track_length_in_the_preferred_direction():
    layout = parse_def(SMALL_DEF)
    xs, ys, usage = pic.routing_usage(layout, {"metal3": "Horizontal", "metal2": "Vertical"})
    assert list(xs) == [0, 10, 20] and list(ys) == [0, 10]
    # metal3 runs horizontally: 10 tracks x 10 µm per GCell. Its wires: clknet_0 1..15 µm at
    # y=2.5 (9 µm in the left GCell, 5 in the right), d 2..4 and 6..7 µm (3 µm, left).
    # metal2 runs vertically: 10 tracks x 10 µm per GCell; one 6 µm wire in the left GCell.
    assert usage[0, 0] == pytest.approx(100 * 12 / 100)
    assert usage[0, 1] == pytest.approx(100 * 5 / 100)
    # Without the log: the direction most of a layer's wire length runs in.
    assert np.allclose(pic.routing_usage(layout)[2], usage)


def test_clock_levels_count_buffers_from_the_clock_pin():
    layout = parse_def(SMALL_DEF)
    assert pic.clock_levels(layout) == {"clk": 0, "clknet_0": 1}


def test_global_routing_reports_are_read_in_openroads_formats():
    # The congestion report global_route -congestion_report_file writes (one block per GCell).
    report = ("violation type: Horizontal congestion\n\tsrcs: net:a net:b \n"
              "\tcongestion information: capacity:2 usage:5 overflow:3\n"
              "\tbbox = ( 12.6, 4.2 ) - ( 14.7, 6.3) on Layer -\n"
              "violation type: Vertical congestion\n\tsrcs: net:c \n"
              "\tcongestion information: capacity:1 usage:2 overflow:1\n"
              "\tbbox = ( 0, 0 ) - ( 2.1, 2.1) on Layer -\n")
    assert pic.read_congestion_report(report) == [(12.6, 4.2, 14.7, 6.3, 3), (0.0, 0.0, 2.1, 2.1, 1)]
    log = (PICTURE_FIXTURES / "route.global.log").read_text()
    usage = pic.read_global_route_usage(log)
    assert usage["metal2"] == (2412, 1055) and usage["metal10"] == (342, 2) and "Total" not in usage
    directions = pic.read_layer_directions(log)
    assert directions["metal2"] == "Vertical" and directions["metal3"] == "Horizontal" and len(directions) == 10


def test_cell_sizes_come_from_the_pr_boundary_not_the_well_overlap(tmp_path):
    kdb = pytest.importorskip("klayout.db", reason="klayout Python module not installed")
    layout = kdb.Layout()
    layout.dbu = 0.001
    boundary, nwell = layout.layer(235, 0), layout.layer(1, 0)
    top = layout.create_cell("top")
    for name, width in (("INV_X1", 380), ("NAND2_X1", 570)):
        cell = layout.create_cell(name)
        cell.shapes(boundary).insert(kdb.Box(0, 0, width, 1400))
        cell.shapes(nwell).insert(kdb.Box(-115, 700, width + 115, 1515))  # sticks out of the cell
        top.insert(kdb.CellInstArray(cell.cell_index(), kdb.Trans(kdb.Point(width * 3, 0))))
    gds = tmp_path / "cells.gds"
    layout.write(str(gds))
    sizes = pic.cell_sizes_from_gds(gds)
    assert sizes["INV_X1"] == pytest.approx((0.38, 1.4)) and sizes["NAND2_X1"] == pytest.approx((0.57, 1.4))


@pytest.fixture(scope="module")
def nangate_sizes(pdk_data_root):
    pytest.importorskip("klayout.db", reason="klayout Python module not installed")
    gds = pdk_data_root / "lambdapdk/freepdk45/libs/nangate45/gds/NangateOpenCellLibrary.gds"
    if not gds.is_file():
        pytest.skip(f"NanGate45 cell GDS not at {gds}")
    return pic.cell_sizes_from_gds(gds)


def test_placement_density_of_a_real_run_accounts_for_every_cell(nangate_sizes):
    layout = read_def(PICTURE_FIXTURES / "halut_decoder.place.detailed.def.gz")
    x0, y0, bin_um, density, boxes = pic.placement_density(layout, nangate_sizes)
    assert len(boxes) == len(layout.components) > 500  # every placed cell is in the cell GDS
    # The density map holds exactly the placed cell area, and no bin is over-full (legal placement).
    assert (density.sum() / 100 * bin_um ** 2) == pytest.approx(sum(w * h for _, _, w, h, _ in boxes), rel=1e-6)
    assert density.max() <= 100 + 1e-6
    assert bin_um == pytest.approx(3 * 1.4)  # whole rows of NanGate45's 1.4 µm cells


def _png(data: bytes):
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize("key", list(pic.PICTURE_SOURCES))
def test_each_picture_of_a_real_run_is_a_small_thumbnail_of_a_sane_full_size_png(key, nangate_sizes):
    step, name = {"placement density": ("place.detailed", "halut_decoder.place.detailed.def.gz")}.get(
        key, ("route.detailed_antenna_repair", "halut_decoder.route.def.gz"))
    layout = read_def(PICTURE_FIXTURES / name)
    drawn = pic.draw(key, layout, step, sizes=nangate_sizes,
                     global_route_log=(PICTURE_FIXTURES / "route.global.log").read_text())
    full, thumb = _png(drawn.png), _png(drawn.thumb)
    assert 700 <= thumb.width <= 1300 and full.width >= 1.8 * thumb.width
    assert len(drawn.thumb) < 400_000 and len(drawn.png) < 2_000_000
    # Not a blank canvas: the drawing has colour beyond axes black and white.
    colours = thumb.convert("RGB").getcolors(1 << 20)
    assert len([c for c in colours if c[0] > 50]) > 8


def test_clock_tree_of_a_real_run_reaches_every_clock_net(nangate_sizes):
    layout = read_def(PICTURE_FIXTURES / "halut_decoder.route.def.gz")
    levels = pic.clock_levels(layout)
    clock_nets = {net.name for net in layout.nets if net.use == "CLOCK"}
    assert set(levels) == clock_nets and levels["clk_i"] == 0 and max(levels.values()) >= 2


def test_a_picture_without_cell_sizes_says_why():
    with pytest.raises(pic.PictureError, match="no GDS"):
        pic.draw("placement density", parse_def(SMALL_DEF), "place.detailed", sizes=None)


def test_plan_takes_the_last_def_of_each_stage_in_flow_order():
    flow = ["place.global", "place.detailed", "cts.clock_tree_synthesis", "route.global", "route.detailed",
            "route.detailed_antenna_repair", "write.views"]
    # Keys sorted, as the history stores them: route.global after route.detailed_antenna_repair.
    defs = {"cts.clock_tree_synthesis": "c", "place.detailed": "b", "place.global": "a", "route.detailed": "d",
            "route.detailed_antenna_repair": "e", "route.global": "g", "write.views": "f"}
    assert pic.plan(defs, flow) == [("placement density", "place.detailed", "b"),
                              ("clock tree", "route.detailed_antenna_repair", "e"),
                              ("routing layers", "route.detailed_antenna_repair", "e"),
                              ("congestion", "route.detailed_antenna_repair", "e")]
    # Stopped after CTS: the clock tree unrouted, no routing pictures.
    assert pic.plan({"place.detailed": "b", "cts.clock_tree_synthesis": "c"}, flow) == [
        ("placement density", "place.detailed", "b"), ("clock tree", "cts.clock_tree_synthesis", "c")]


@pytest.fixture
def pictured(tmp_path, pdk_data_root):
    """A routed record with the real run's DEFs and, as its GDS, NanGate45's cell GDS (the same
    cells the final GDS holds)."""
    pytest.importorskip("klayout.db", reason="klayout Python module not installed")
    cells = pdk_data_root / "lambdapdk/freepdk45/libs/nangate45/gds/NangateOpenCellLibrary.gds"
    if not cells.is_file():
        pytest.skip(f"NanGate45 cell GDS not at {cells}")
    record = routed_record(tmp_path / "build", with_defs=True)
    gds = Path(record.build_dir) / "halut_decoder/job0/write.gds/0/outputs/halut_decoder.gds"
    gds.write_bytes(cells.read_bytes())
    record.gds = str(gds)
    return record


def test_run_page_shows_the_pictures_first_as_thumbnails_and_groups_files_by_step(pictured, tmp_path):
    roots = ArtifactRoots(build=(tmp_path / "build",))
    summary = build_site([pictured], tmp_path / "site", roots=roots, cache_dir=tmp_path / "cache")
    assert not summary.warnings, summary.warnings
    assert (summary.pictures_drawn, summary.picture_cache_hits) == (4, 0)
    run_dir = tmp_path / "site" / "runs" / slug(pictured.run_id)
    page = (run_dir.parent / f"{slug(pictured.run_id)}.html").read_text()
    figures = re.findall(r'<figure data-image="([^"]+)"><a href="([^"]+)"><img src="([^"]+)"', page)
    assert [key for key, _, _ in figures] == ["placement density", "clock tree", "routing layers", "congestion",
                                              "layout"]
    for _, href, src in figures:
        full, thumb = run_dir.parent / href, run_dir.parent / src
        assert full.is_file() and thumb.is_file() and src != href
        assert Image.open(thumb).width <= 1300
    # At the top: the pictures come before the facts and the metrics table.
    assert page.index('<section class="pictures"') < page.index('<dl class="facts">') < page.index("<h2>Metrics</h2>")
    assert "from the route.detailed_antenna_repair DEF" in page
    # Files: one collapsed group per step, in flow order.
    groups = re.findall(r'<details class="files" data-step="([^"]+)"(\s+open)?>', page)
    assert groups and not any(opened for _, opened in groups)
    steps = [step for step, _ in groups]
    assert steps.index("synthesis") < steps.index("route.global") < steps.index("write.views")
    assert len(steps) == len(set(steps))

    again = build_site([pictured], tmp_path / "site2", roots=roots, cache_dir=tmp_path / "cache")
    assert (again.pictures_drawn, again.picture_cache_hits) == (0, 4)


def test_a_def_outside_the_build_folder_is_not_read(pictured, tmp_path):
    outside = tmp_path / "elsewhere" / "halut_decoder.def.gz"
    outside.parent.mkdir()
    outside.write_bytes((PICTURE_FIXTURES / "halut_decoder.place.detailed.def.gz").read_bytes())
    pictured.defs = {"place.detailed": str(outside)}
    summary = build_site([pictured], tmp_path / "site", roots=ArtifactRoots(build=(tmp_path / "build",)))
    page = (tmp_path / "site" / "runs" / f"{slug(pictured.run_id)}.html").read_text()
    figure = re.search(r'<figure data-image="placement density">(.*?)</figure>', page, re.DOTALL).group(1)
    assert "not drawn: outside the project&#39;s build folder" in figure and "<img" not in figure
    assert any("not published" in w for w in summary.warnings)


def test_a_huge_record_image_is_published_smaller_and_the_build_folder_keeps_its_own(tmp_path):
    record = routed_record(tmp_path / "build")
    original = Path(record.images["layout"])
    # As wide as SC's KLayout render of the GDS (4096 px), with detail that does not compress away.
    noise = np.random.default_rng(1).integers(0, 255, (4096, 4096, 3), dtype=np.uint8)
    Image.fromarray(noise).save(original)
    before = original.read_bytes()
    roots = ArtifactRoots(build=(tmp_path / "build",))
    for site in ("site", "again"):  # the second build takes the smaller copies from the cache
        build_site([record], tmp_path / site, roots=roots, cache_dir=tmp_path / "cache")
        img = tmp_path / site / "runs" / slug(record.run_id) / "img"
        assert Image.open(img / "layout.png").width == 1600 and Image.open(img / "layout-thumb.png").width == 800
        assert (img / "layout.png").stat().st_size < len(before) / 4
    assert original.read_bytes() == before
    assert len(list((tmp_path / "cache" / "thumbs").iterdir())) == 1


def test_the_record_names_the_def_each_step_wrote_in_flow_order(tmp_path):
    from orchestrator.metrics import find_defs

    job = tmp_path / "sc" / "halut_decoder" / "job0"
    for step, name in (("place.detailed", "halut_decoder.def.gz"), ("cts.clock_tree_synthesis", "halut_decoder.def"),
                       ("route.detailed", "halut_decoder.def.gz"), ("write.gds", "halut_decoder.gds")):
        (job / step / "0" / "outputs").mkdir(parents=True)
        (job / step / "0" / "outputs" / name).write_bytes(b"")
    (job / "synthesis" / "0" / "outputs").mkdir(parents=True)  # a step without a DEF
    steps = ["synthesis", "place.detailed", "cts.clock_tree_synthesis", "route.detailed", "write.gds"]
    defs = find_defs(job, "halut_decoder", steps)
    assert list(defs) == ["place.detailed", "cts.clock_tree_synthesis", "route.detailed"]
    assert defs["cts.clock_tree_synthesis"].endswith("cts.clock_tree_synthesis/0/outputs/halut_decoder.def")
