"""The 12-month score trend of a department as the geometry of a small line chart: the template draws it
as inline SVG (no script, nothing loaded), and says the same in words for its text alternative."""

from __future__ import annotations

from decimal import Decimal

WIDTH, HEIGHT, PAD = 264, 64, 6


def trend_chart(points: list[tuple[str, Decimal | None]]) -> dict:
    """Lines (one per run of months with a score: a month without one leaves a gap), dots, the words."""
    step = (WIDTH - 2 * PAD) / max(1, len(points) - 1)
    runs: list[list[tuple[float, float]]] = [[]]
    dots = []
    for i, (label, score) in enumerate(points):
        if score is None:
            runs.append([])
            continue
        x, y = PAD + i * step, PAD + (HEIGHT - 2 * PAD) * (1 - float(score) / 100)
        runs[-1].append((round(x, 1), round(y, 1)))
        dots.append({"x": round(x, 1), "y": round(y, 1), "label": label, "score": score})
    lines = [" ".join(f"{x},{y}" for x, y in run) for run in runs if len(run) > 1]
    shown = [f"{label} {score}" for label, score in points if score is not None]
    words = "；".join(shown) if shown else "无"
    missing = sum(1 for _, score in points if score is None)
    return {"width": WIDTH, "height": HEIGHT, "lines": lines, "dots": dots,
            "baseline": HEIGHT - PAD, "top": PAD, "middle": HEIGHT / 2,
            "description": f"得分：{words}" + (f"（{missing} 个月无已保存的结果）" if missing else "")}
