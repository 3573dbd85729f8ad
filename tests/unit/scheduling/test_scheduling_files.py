"""orders.csv / suites.csv / downtime.csv: round trip, and errors that name file, row, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from vein2vein.core.errors import InputError
from vein2vein.scheduling.files import (
    load_problem,
    read_orders,
    read_suites,
    write_downtime,
    write_orders,
    write_suites,
)
from vein2vein.scheduling.generator import GeneratorConfig, generate_problem

ORDERS = (
    "order_id,receipt_date,max_hold_days,required_by,infectious,process_days,qc_days,ship_days\n"
    "O1,2026-03-02,10,2026-04-01,N,9,7,1\n"
    "O2,2026-03-03,3,2026-04-02,Y,10,14,2\n"
)
SUITES = (
    "suite_id,infectious,available_from,changeover_days,decon_days\n"
    "S1,N,2026-03-01,1,0\n"
    "S2,Y,2026-03-01,1,3\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(call) -> InputError:
    with pytest.raises(InputError) as caught:
        call()
    return caught.value


def test_reads_the_issue_formats(tmp_path: Path) -> None:
    problem = load_problem(
        write(tmp_path, "orders.csv", ORDERS), write(tmp_path, "suites.csv", SUITES)
    )
    o2 = problem.order_by_id["O2"]
    assert (o2.infectious, o2.max_hold_days, o2.qc_days, o2.ship_days) == (True, 3, 14, 2)
    assert problem.suite_by_id["S2"].decon_days == 3


def test_round_trip_of_a_generated_instance(tmp_path: Path) -> None:
    problem = generate_problem(GeneratorConfig(orders=30, seed=4, weekday_starts=True))
    write_orders(tmp_path / "o.csv", problem.orders)
    write_suites(tmp_path / "s.csv", problem.suites)
    write_downtime(tmp_path / "d.csv", problem.suites)
    back = load_problem(tmp_path / "o.csv", tmp_path / "s.csv", downtime_path=tmp_path / "d.csv")
    assert back.orders == problem.orders
    assert back.suites == problem.suites


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        ("O3,2026-13-01,10,2026-04-01,N,9,7,1", "receipt_date", "not a date"),
        ("O3,2026-03-01,ten,2026-04-01,N,9,7,1", "max_hold_days", "whole number"),
        ("O3,2026-03-01,10,2026-04-01,maybe,9,7,1", "infectious", "Y or N"),
        ("O3,2026-03-01,10,2026-04-01,N,0,7,1", "process_days", "minimum of 1"),
        ("O3,2026-03-01,10,2026-04-01,N,9,-1,1", "qc_days", "minimum of 0"),
        ("O3,2026-03-01,10,2026-02-01,N,9,7,1", "required_by", "before receipt_date"),
        ("O1,2026-03-01,10,2026-04-01,N,9,7,1", "order_id", "repeats row 2"),
        (",2026-03-01,10,2026-04-01,N,9,7,1", "order_id", "is empty"),
    ],
)
def test_order_errors_name_file_row_and_field(tmp_path: Path, line, field, words) -> None:
    path = write(tmp_path, "orders.csv", ORDERS + line + "\n")
    exc = error_of(lambda: read_orders(path))
    assert (exc.file, exc.row, exc.field) == ("orders.csv", 4, field)
    assert words in str(exc) and "orders.csv, row 4" in str(exc)


def test_missing_column_is_reported_on_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", ORDERS.replace("ship_days", "shipping"))
    exc = error_of(lambda: read_orders(path))
    assert (exc.row, exc.field) == (1, "ship_days")


def test_fixed_batch_columns(tmp_path: Path) -> None:
    header = ORDERS.splitlines()[0] + ",fixed_suite,fixed_start\n"
    ok = write(
        tmp_path, "orders.csv", header + "O1,2026-03-02,10,2026-04-01,N,9,7,1,S1,2026-03-02\n"
    )
    suites = write(tmp_path, "suites.csv", SUITES)
    assert load_problem(ok, suites).orders[0].fixed is not None
    half = write(tmp_path, "half.csv", header + "O1,2026-03-02,10,2026-04-01,N,9,7,1,S1,\n")
    assert error_of(lambda: read_orders(half)).field == "fixed_start"
    unknown = write(
        tmp_path, "unk.csv", header + "O1,2026-03-02,10,2026-04-01,N,9,7,1,S9,2026-03-02\n"
    )
    exc = error_of(lambda: load_problem(unknown, suites))
    assert (exc.file, exc.row, exc.field) == ("unk.csv", 2, "fixed_suite")


def test_suite_and_downtime_errors(tmp_path: Path) -> None:
    bad = write(tmp_path, "suites.csv", SUITES + "S3,N,2026-03-01,x,0\n")
    exc = error_of(lambda: read_suites(bad))
    assert (exc.row, exc.field) == (4, "changeover_days")
    orders, suites = write(tmp_path, "orders.csv", ORDERS), write(tmp_path, "s.csv", SUITES)
    down = write(tmp_path, "downtime.csv", "suite_id,start,end\nS9,2026-03-01,2026-03-02\n")
    exc = error_of(lambda: load_problem(orders, suites, downtime_path=down))
    assert (exc.file, exc.row, exc.field) == ("downtime.csv", 2, "suite_id")
    back = write(tmp_path, "back.csv", "suite_id,start,end\nS1,2026-03-05,2026-03-02\n")
    assert error_of(lambda: load_problem(orders, suites, downtime_path=back)).field == "end"


def test_empty_and_missing_files(tmp_path: Path) -> None:
    assert "empty" in str(error_of(lambda: read_orders(write(tmp_path, "e.csv", ""))))
    header_only = write(tmp_path, "h.csv", ORDERS.splitlines()[0] + "\n")
    assert "no orders" in str(error_of(lambda: read_orders(header_only)))
    assert "cannot open" in str(error_of(lambda: read_orders(tmp_path / "nope.csv")))


def test_weekday_column_and_default(tmp_path: Path) -> None:
    header = ORDERS.splitlines()[0] + ",start_weekdays\n"
    path = write(
        tmp_path,
        "orders.csv",
        header
        + "O1,2026-03-02,10,2026-04-01,N,9,7,1,Mon-Wed\n"
        + "O2,2026-03-02,10,2026-04-01,N,9,7,1,\n",
    )
    problem = load_problem(path, write(tmp_path, "s.csv", SUITES), start_weekdays=frozenset({4}))
    assert problem.orders[0].start_weekdays == frozenset({0, 1, 2})
    assert problem.orders[1].start_weekdays == frozenset({4})
    bad = write(tmp_path, "b.csv", header + "O1,2026-03-02,10,2026-04-01,N,9,7,1,Funday\n")
    assert error_of(lambda: read_orders(bad)).field == "start_weekdays"
