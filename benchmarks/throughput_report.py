"""The report of ``throughput.py``: its rows, the Markdown table and the JSON / Markdown files."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from harness import describe_machine, markdown_row, markdown_table, number, write_json, write_text


@dataclass
class Row:
    """One line of the table (and of the JSON)."""

    case: str
    precision: str
    status: str = "ok"          # 'ok', 'skipped', 'refused' (by isovox) or 'failed'
    note: str = ""
    arch: str = ""
    output_shape: list = field(default_factory=list)
    gflop: float | None = None
    forward_passes: int | None = None
    first_s: float | None = None
    seconds: float | None = None
    repeat_s: list = field(default_factory=list)
    gflops: float | None = None
    roofline_share: float | None = None
    mvoxel_s: float | None = None
    peak_mb: float | None = None
    peak_kind: str = ""
    host_rise_mb: float | None = None


NOTE_WIDTH = 120                # characters of a failure's reason in the table (all of it in the JSON)
HEADER = markdown_table(["case", "arch", "precision", "output", "GFLOP", "first s", "s", "GFLOP/s", "of roofline",
                         "Mvoxel/s", "peak MB"], [], align="llllrrrrrrr")


def table_line(row: Row) -> str:
    """A row's line of the table; a row without figures says why (its note, shortened)."""
    if row.status != "ok":
        note = row.note if len(row.note) <= NOTE_WIDTH else row.note[:NOTE_WIDTH - 3] + "..."
        return markdown_row([row.case, row.arch or "-", row.precision, f"{row.status}: {note}"])
    shape = " x ".join(map(str, row.output_shape))
    return markdown_row([row.case, row.arch, row.precision, shape, number(row.gflop, 1), number(row.first_s, 2),
                         number(row.seconds, 2), number(row.gflops, 1), f"{100 * row.roofline_share:.1f} %",
                         number(row.mvoxel_s, 3), number(row.peak_mb, 0)])


def roofline_line(roofline: dict, batch: int) -> str:
    parts = [f"{p} {r['gflops']:.1f} GFLOP/s ({r['channels']} ch{', channels_last' if r['channels_last'] else ''})"
             for p, r in roofline.items()]
    return f"Roofline (3x3 conv2d, best of 32/64/128 channels, {batch} x 256^2): " + "; ".join(parts)


def markdown(rows: list[Row], roofline: dict, info: dict, args, factor: int) -> str:
    """The whole report: setup, roofline, the table, what the peak memory is, notes."""
    notes = sorted({f"- {r.case} {r.precision}: {r.note}" for r in rows if r.status == "ok" and r.note})
    peaks = sorted({r.peak_kind for r in rows if r.peak_kind})
    lines = [f"Device: {args.device}; {describe_machine(info)}; FlyEM x{factor} crop {args.size}; model folders trained "
             f"{args.train_iterations} iterations; s = best of {args.repeats} after a first call and a "
             "FLOP-counting call.", "", roofline_line(roofline, args.roofline_batch), "", HEADER,
             *(table_line(r) for r in rows), "", f"peak MB: {', '.join(peaks) or '-'}.", *notes]
    return "\n".join(lines) + "\n"


def write_results(rows: list[Row], roofline: dict, info: dict, args, factor: int) -> None:
    """The JSON and markdown files asked for, with the rows so far."""
    if args.json:
        options = {k: str(v) for k, v in vars(args).items()}
        write_json(args.json, {"environment": info, "options": options, "roofline": roofline,
                               "cases": [asdict(r) for r in rows]}, indent=1)
    if args.markdown:
        write_text(args.markdown, markdown(rows, roofline, info, args, factor))
