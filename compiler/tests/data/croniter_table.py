#!/usr/bin/env python3
"""Writes croniter_table.json: how croniter (an independent cron reader,
https://pypi.org/project/croniter/) reads a table of schedule expressions.

`cargo test -p ledcast-compiler --test schedule_text` compares ledcast's
reading of each row with croniter's, so the fixture is committed and the
test needs no Python. To regenerate after changing the table:

    pip install croniter==7.0.0
    python3 compiler/tests/data/croniter_table.py

Expressions are written in ledcast's seven-field form (second minute hour
day-of-month month day-of-week year); croniter gets the same fields in its
own order (minute hour day-of-month month day-of-week second). Rows whose
day-of-month and day-of-week are both restricted are read with
day_or=False: ledcast requires both (Friday the 13th), unlike Unix cron.
"""

import datetime
import json
import pathlib
import zoneinfo

import croniter
from importlib.metadata import version

EXPRESSIONS = [
    # day-of-week: ordinary cron numbering (0 and 7 = Sunday, 1 = Monday)
    "0 0 12 * * 1-5 *",
    "0 0 12 * * 0 *",
    "0 0 12 * * 7 *",
    "0 0 12 * * 0,7 *",
    "0 0 12 * * 1 *",
    "0 0 12 * * 6 *",
    "0 0 12 * * 5-7 *",
    "0 0 12 * * 0-6 *",
    "0 0 12 * * 0-7 *",
    "0 0 12 * * 7-1 *",
    "0 0 12 * * 6-0 *",
    "0 0 12 * * 5-1 *",
    "0 0 12 * * 1,3,5 *",
    "0 0 12 * * 1-5/2 *",
    "0 0 12 * * 5-1/2 *",
    "0 0 12 * * */2 *",
    "0 0 12 * * */3 *",
    "0 0 12 * * 5/2 *",
    "0 0 12 * * Mon-Fri *",
    "0 0 12 * * MON *",
    "0 0 12 * * sat,sun *",
    "0 0 12 * * Sat-Sun *",
    "0 0 12 * * fri-mon *",
    "0 0 12 * * mon,wed-fri *",
    "0 0 12 * * sun-sat *",
    "0 0 12 * * ? *",
    # the other fields
    "0 30 8 * * * *",
    "30 15 10 * * * *",
    "0 */15 9-10 * * 1-5 *",
    "0 0/20 9 * * * *",
    "0 0 22-2 * * * *",
    "0 0 5/6 * * * *",
    "0 0 12 28-3 * * *",
    "0 0 12 1,15 * * *",
    "0 0 12 31 * * *",
    "0 0 12 * dec-jan * *",
    "0 0 12 * 2 * *",
    "0 0 12 29 2 * *",
    # both day fields restricted: both must hold (croniter day_or=False)
    "0 0 12 13 * 5 *",
    "0 0 12 13 * Fri *",
    "0 0 12 1,15 * 1 *",
    "0 0 12 15-21 * fri *",
]

ZONES = [
    ("Asia/Shanghai", "2026-12-01T00:00:00"),
    ("UTC", "2027-02-20T00:00:00"),
    ("America/New_York", "2026-10-28T00:00:00"),
    ("Europe/London", "2027-03-25T00:00:00"),
]

OCCURRENCES = 12


def restricted(field):
    return field not in ("*", "?")


def main():
    rows = []
    for expression in EXPRESSIONS:
        second, minute, hour, dom, month, dow, _year = expression.split()
        unix = f"{minute} {hour} {dom} {month} {dow} {second}"
        day_or = not (restricted(dom) and restricted(dow))
        for zone, start_text in ZONES:
            tz = zoneinfo.ZoneInfo(zone)
            start = datetime.datetime.fromisoformat(start_text).replace(tzinfo=tz)
            it = croniter.croniter(unix, start, day_or=day_or)
            occurrences = [
                it.get_next(datetime.datetime).isoformat() for _ in range(OCCURRENCES)
            ]
            rows.append(
                {
                    "expression": expression,
                    "croniter": unix,
                    "day_or": day_or,
                    "timezone": zone,
                    "start": start.isoformat(),
                    "occurrences": occurrences,
                }
            )
    head = {
        "generator": "compiler/tests/data/croniter_table.py",
        "croniter_version": version("croniter"),
    }
    lines = [json.dumps(head)[:-1] + ', "rows": [']
    lines += [json.dumps(row) + "," for row in rows]
    lines[-1] = lines[-1][:-1]
    lines.append("]}")
    path = pathlib.Path(__file__).with_name("croniter_table.json")
    path.write_text("\n".join(lines) + "\n")
    print(f"{len(rows)} rows written to {path}")


if __name__ == "__main__":
    main()
