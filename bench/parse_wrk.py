"""Reads wrk --latency output on stdin; prints one TSV row: name, rps, p50 ms,
p99 ms, errors, and the liveness rate measured just before the row (the
second argument, if given)."""
import re
import sys

text = sys.stdin.read()


def ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", text).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", text).group(1))
errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|connect|read|write|timeout)[: ]+(\d+)", text))
before = sys.argv[2] if len(sys.argv) > 2 else ""
print(f"{sys.argv[1]}\t{rps:.0f}\t{p50:.3f}\t{p99:.3f}\t{errors}\t{before}")
