"""Aligned text tables for the terminal: one renderer, so every command's tables look alike.

Columns are padded to their widest cell (the header included) and set two spaces
apart; text reads left-aligned, numbers right-aligned so their digits line up. A
line's trailing spaces are dropped, so a left-aligned last column (free text such
as evidence) costs no padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Align = Literal["left", "right"]


def render_table(
    rows: Sequence[Sequence[str]], align: Sequence[Align], *, indent: str = ""
) -> list[str]:
    """The lines of ``rows`` (the header first), each cell aligned as ``align`` says.

    ``indent`` starts every line, for a table nested under a heading.
    """
    widths = [max(len(row[column]) for row in rows) for column in range(len(align))]
    lines = []
    for row in rows:
        cells = (
            cell.ljust(width) if side == "left" else cell.rjust(width)
            for cell, width, side in zip(row, widths, align, strict=True)
        )
        lines.append(f"{indent}{'  '.join(cells)}".rstrip())
    return lines
