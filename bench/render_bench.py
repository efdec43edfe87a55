"""How rendering an entry's text grows with its size, for the most hostile inputs known.

    .venv/bin/python bench/render_bench.py              # 12,500 to 200,000 characters
    .venv/bin/python bench/render_bench.py --max 50000  # stop sooner

For each input it renders texts of doubling size and prints the seconds taken and the ratio
to the previous size: about 2 means linear growth, about 4 quadratic. An input stops growing
once one render takes longer than --give-up seconds; "refused" means Span turned the text
down with a message (it is too deeply nested to show) instead of rendering it.
"""

from __future__ import annotations

import argparse
import time

from kb.rendering import RenderRefused, render_markdown


def _deep_list(n: int) -> str:
    lines, depth = [], 0
    while sum(len(line) + 1 for line in lines) < n:
        lines.append("    " * depth + "- item")
        depth += 1
    return "\n".join(lines)


INPUTS = {
    "[ run": lambda n: "[" * n,
    "![ run": lambda n: "![" * (n // 2),
    "[ with spaces": lambda n: "[ " * (n // 2),
    "[a]( run": lambda n: "[a](" * (n // 4),
    "[]( run": lambda n: "[](" * (n // 3),
    "( run": lambda n: "(" * n,
    "<a run": lambda n: "<a " * (n // 3),
    "< run": lambda n: "<" * n,
    "nested emphasis": lambda n: "*" * (n // 2) + "a" + "*" * (n // 2),
    "nested strong/em": lambda n: "**_" * (n // 6) + "a" + "_**" * (n // 6),
    "nested links": lambda n: "[" * (n // 8) + "a" + "](b)" * (n // 8),
    "backtick run": lambda n: "`" * n,
    "many links": lambda n: "[a](https://example.org/b) " * (n // 27),
    "many emphasis": lambda n: "*a* " * (n // 4),
    "dotted words": lambda n: "a." * (n // 2),
    "long line": lambda n: "word " * (n // 5),
    "long table": lambda n: "| a | b |\n|---|---|\n" + "| x | y |\n" * (n // 10),
    "wide table": lambda n: (
        "|" + "a|" * (n // 6) + "\n|" + "-|" * (n // 6) + "\n|" + "x|" * (n // 6)
    ),
    "many paragraphs": lambda n: "Some words.\n\n" * (n // 13),
    "long list": lambda n: "- item\n" * (n // 7),
    "deep list": _deep_list,
    "deep quote": lambda n: ">" * n + " a",
    "html comments": lambda n: "<!--" * (n // 4),
    "entities": lambda n: "&amp;" * (n // 5),
}


def _time(text: str) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        render_markdown(text)
        outcome = ""
    except RenderRefused:
        outcome = "refused"
    return time.perf_counter() - started, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min", type=int, default=12_500, help="first size, in characters")
    parser.add_argument("--max", type=int, default=200_000, help="last size, in characters")
    parser.add_argument("--give-up", type=float, default=10.0, help="seconds")
    parser.add_argument("--only", help="run only the inputs whose name contains this")
    args = parser.parse_args()
    sizes = []
    size = args.min
    while size <= args.max:
        sizes.append(size)
        size *= 2
    print(f"{'input':18}" + "".join(f"{s:>16,}" for s in sizes))
    for name, build in INPUTS.items():
        if args.only and args.only not in name:
            continue
        cells, previous = [], None
        for size in sizes:
            seconds, outcome = _time(build(size))
            ratio = f"×{seconds / previous:.1f}" if previous and previous > 0.005 else ""
            cells.append(f"{seconds:7.3f}s{ratio:>6}{'R' if outcome else ' '}")
            previous = seconds
            if seconds > args.give_up:
                break
        print(f"{name:18}" + "".join(f"{cell:>16}" for cell in cells), flush=True)
    print("\nR: refused with a message instead of rendered.")


if __name__ == "__main__":
    main()
