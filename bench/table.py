"""Prints the benchmark table from the TSV rows, with each row's ratio to the
first liveness row and, when measured, to the liveness around it: the mean
of the liveness run just before the row and the one just after it (the next
row's, or the closing drift check). A row where those two differ by more
than a tenth is marked: the machine changed speed during it, and its ratio
is a rough one."""
import sys

CHANGED = 0.10

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
liveness = float(rows[0][1])


def before(row):
    return float(row[5]) if len(row) > 5 and row[5] else None


def after(index):
    """The liveness measured next after row `index`."""
    for row in rows[index + 1 :]:
        if before(row) is not None:
            return before(row)
        if row[0].startswith("liveness, again"):
            return float(row[1])
    return None


checked = any(before(row) is not None for row in rows)
extra = f" {'vs liveness around it':>32} |" if checked else ""
print(f"| {'scenario':<38} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | {'errors':>6} | {'vs liveness':>11} |{extra}")
extra = f"{'-' * 34}|" if checked else ""
print(f"|{'-' * 40}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 8}|{'-' * 13}|{extra}")
marked = False
for index, row in enumerate(rows):
    name, rps, p50, p99, errors = row[:5]
    local = ""
    first, then = before(row), after(index)
    if first is not None:
        around = [first] if then is None else [first, then]
        changed = then is not None and abs(then / first - 1) > CHANGED
        marked |= changed
        mark = " *" if changed else "  "
        span = " to ".join(f"{value:.0f}" for value in around)
        local = f"{float(rps) / (sum(around) / len(around)):.2f}{mark} ({span})"
    extra = f" {local:>32} |" if checked else ""
    print(f"| {name:<38} | {float(rps):>8.0f} | {float(p50):>7.2f} | {float(p99):>7.2f} | {errors:>6} | {float(rps) / liveness:>11.2f} |{extra}")
if marked:
    print(f"\n* the liveness before and after the row differ by more than {CHANGED:.0%}: the machine changed speed during it")
