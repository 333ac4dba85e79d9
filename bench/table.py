"""Prints the benchmark table from the TSV rows, with each row's ratio to liveness."""
import sys

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
liveness = float(rows[0][1])
print(f"| {'scenario':<38} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | {'errors':>6} | {'vs liveness':>11} |")
print(f"|{'-' * 40}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 8}|{'-' * 13}|")
for name, rps, p50, p99, errors in rows:
    print(f"| {name:<38} | {float(rps):>8.0f} | {float(p50):>7.2f} | {float(p99):>7.2f} | {errors:>6} | {float(rps) / liveness:>11.2f} |")
