"""The colours of Lagebild's figures, dashboards and reports, chosen for BITV 2.0 / WCAG 2.1 AA.

* Series: the colour-blind-safe palette of Okabe & Ito (2008), extended by Paul Tol's indigo,
  wine and a neutral grey, every colour at least 3:1 against white (WCAG 1.4.11, graphics);
  lines also differ by marker symbol and dash, so no series is told apart by colour alone.
* Text on a coloured bar is black or white, whichever contrasts more (at least 4.5:1).
* Sequential scales (heatmap, benchmark bands) run in one hue from light to dark, so they
  read the same with any colour vision; heatmap cells carry their value in black text.
* Reference lines and band edges are a dark grey (5.8:1), captions and notes too.

`contrast()` is the WCAG contrast ratio; tests/unit/test_palette.py checks every pairing.
"""

from __future__ import annotations

WHITE = "#ffffff"
BLACK = "#000000"
INK = "#1d2733"  # body text of the reports
MUTED = "#5b6770"  # captions, notes, reference lines: 5.8:1 on white
SERIES = (
    "#0072b2",  # blue (Okabe–Ito)
    "#d55e00",  # vermillion
    "#009e73",  # bluish green
    "#cc79a7",  # reddish purple
    "#332288",  # indigo (Tol)
    "#8c6d31",  # brown
    "#882255",  # wine (Tol)
    MUTED,
)
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "triangle-down", "cross")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "solid", "dash")

PRIMARY = SERIES[0]  # a single series (bars of a count)
SECOND = SERIES[1]  # the second series of a two-series figure
HIGH = "#882255"  # caseload above 60 per FTE
VERY_HIGH = "#3d0f24"  # caseload above 150 per FTE
MISSING = MUTED  # a value withheld or missing: no bar, its marker as text
WAIT_P90 = "#5b8fc7"  # 3.4:1 on white
WAIT_MEDIAN = "#0b3c5d"  # 3.4:1 against WAIT_P90, drawn on top of it
# benchmark bands, light to dark in one hue (a higher band = more cases per FTE); their edges
# are drawn as MUTED lines, so the bands do not depend on the fill
BANDS = ("#fff3e0", "#ffe3bf", "#ffd29c", "#ffc078", "#ffad55")
BAND_EDGE = MUTED
# heatmap of shares (0 to 100 %): light to mid orange, values as black text on every cell
HEAT_SCALE = ((0.0, "#fff5eb"), (0.5, "#fdae6b"), (1.0, "#e6550d"))
HEAT_TEXT = BLACK
CI_ALPHA = 0.15  # confidence band around a curve (supplementary, the curve carries the value)


def _luminance(color: str) -> float:
    h = color.lstrip("#")
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two `#rrggbb` colours (1 to 21)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_on(color: str) -> str:
    """Black or white text, whichever contrasts more with `color`."""
    return BLACK if contrast(BLACK, color) >= contrast(WHITE, color) else WHITE


def series(i: int) -> dict:
    """Colour, marker symbol and dash of the i-th series of a line chart."""
    n = len(SERIES)
    return {
        "color": SERIES[i % n],
        "symbol": SYMBOLS[i % len(SYMBOLS)],
        "dash": DASHES[i % len(DASHES)],
    }
