"""Colour arithmetic for the contrast tests: WCAG 2 contrast ratios, and how a colour looks
to a reader with a colour-vision deficiency.

- Relative luminance and contrast ratio as WCAG 2.2 defines them
  (https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio).
- Protanopia, deuteranopia and tritanopia by Machado, Oliveira and Fernandes (2009), "A
  Physiologically-based Model for Simulation of Color Vision Deficiency", severity 1.0,
  applied to linear RGB.
- Distance between two colours as CIE76 delta E in CIELAB (D65).
"""

from __future__ import annotations

import re

Rgb = tuple[float, float, float]  # sRGB, each 0..1

NAMED = {"white": "#ffffff", "black": "#000000"}

# Machado et al. (2009), severity 1.0, rows of a 3 x 3 matrix on linear RGB.
DEFICIENCIES: dict[str, tuple[Rgb, Rgb, Rgb]] = {
    "protanopia": (
        (0.152286, 1.052583, -0.204868),
        (0.114503, 0.786281, 0.099216),
        (-0.003882, -0.048116, 1.051998),
    ),
    "deuteranopia": (
        (0.367322, 0.860646, -0.227968),
        (0.280085, 0.672501, 0.047413),
        (-0.011820, 0.042940, 0.968881),
    ),
    "tritanopia": (
        (1.255528, -0.076749, -0.178779),
        (-0.078411, 0.930809, 0.147602),
        (0.004733, 0.691367, 0.303900),
    ),
}


def parse(colour: str) -> Rgb:
    """#rgb, #rrggbb or a named colour, as sRGB."""
    text = NAMED.get(colour.strip().lower(), colour.strip().lower())
    match = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", text)
    if not match:
        raise ValueError(f"not a colour this test reads: {colour!r}")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    red, green, blue = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return red, green, blue


def _linear(channel: float) -> float:
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


def _gamma(channel: float) -> float:
    channel = min(max(channel, 0.0), 1.0)
    return channel * 12.92 if channel <= 0.0031308 else 1.055 * channel ** (1 / 2.4) - 0.055


def luminance(colour: str) -> float:
    red, green, blue = (_linear(c) for c in parse(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio, 1 to 21."""
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def simulate(colour: str, deficiency: str) -> str:
    """The colour as a reader with that deficiency sees it, as #rrggbb."""
    linear = [_linear(c) for c in parse(colour)]
    seen = [
        sum(m * c for m, c in zip(row, linear, strict=True)) for row in DEFICIENCIES[deficiency]
    ]
    return "#" + "".join(f"{round(_gamma(c) * 255):02x}" for c in seen)


def _lab(colour: str) -> Rgb:
    red, green, blue = (_linear(c) for c in parse(colour))
    x = (0.4124 * red + 0.3576 * green + 0.1805 * blue) / 0.95047
    y = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    z = (0.0193 * red + 0.1192 * green + 0.9505 * blue) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(first: str, second: str) -> float:
    """CIE76 distance: about 2 is just noticeable, 10 and more is plainly another colour."""
    return float(sum((a - b) ** 2 for a, b in zip(_lab(first), _lab(second), strict=True)) ** 0.5)
