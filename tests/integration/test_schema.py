from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from core.db import Base, make_engine
from core.schema import SEARCH_INDEX, current, include_name, upgrade


def test_migrations_create_exactly_the_models_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    upgrade(engine)  # idempotent
    assert current(engine) is not None
    with engine.connect() as conn:
        # The SQLite search index is no model (see core.schema.include_name).
        context = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_migrations_leave_the_sqlite_search_index_with_all_its_triggers(tmp_path: Path) -> None:
    # A later migration that rebuilds deals or prospects drops their triggers with them.
    engine = make_engine(f"sqlite:///{tmp_path / 'dealreg.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE name LIKE 'deal_search%'"
            " AND type IN ('table', 'trigger')"
        ).all()
    engine.dispose()
    assert ("table", SEARCH_INDEX, SEARCH_INDEX) in rows
    triggers = {(name, table) for kind, name, table in rows if kind == "trigger"}
    assert triggers == {
        ("deal_search_deal_insert", "deals"),
        ("deal_search_deal_update", "deals"),
        ("deal_search_deal_delete", "deals"),
        ("deal_search_prospect_insert", "prospects"),
        ("deal_search_prospect_update", "prospects"),
        ("deal_search_prospect_delete", "prospects"),
    }
