"""Prints the benchmark table from the TSV rows, with each row's ratio to the
first liveness row, and to the liveness run just before it (when measured)."""
import sys

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
liveness = float(rows[0][1])
checked = any(len(row) > 5 and row[5] for row in rows)
extra = f" {'vs liveness just before':>23} |" if checked else ""
print(f"| {'scenario':<38} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | {'errors':>6} | {'vs liveness':>11} |{extra}")
extra = f"{'-' * 25}|" if checked else ""
print(f"|{'-' * 40}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 8}|{'-' * 13}|{extra}")
for row in rows:
    name, rps, p50, p99, errors = row[:5]
    before = row[5] if len(row) > 5 else ""
    local = f"{float(rps) / float(before):.2f} (of {float(before):.0f})" if before else ""
    extra = f" {local:>23} |" if checked else ""
    print(f"| {name:<38} | {float(rps):>8.0f} | {float(p50):>7.2f} | {float(p99):>7.2f} | {errors:>6} | {float(rps) / liveness:>11.2f} |{extra}")
