import logging

from dealreg.wiring import KeyValueFormatter


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("core.deals", logging.INFO, __file__, 1, "approve %s", ("x",), None)
    record.__dict__.update(extra)
    return record


def test_log_line_names_the_deal_it_concerns() -> None:
    line = KeyValueFormatter().format(_record(deal="DR-000042"))
    assert "deal=DR-000042" in line
    assert "level=INFO" in line and "msg='approve x'" in line


def test_log_line_without_a_deal_has_no_deal_key() -> None:
    assert "deal=" not in KeyValueFormatter().format(_record())
