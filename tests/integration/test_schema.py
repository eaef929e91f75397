from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from core.db import Base, make_engine
from core.schema import current, upgrade


def test_migrations_create_exactly_the_models_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    upgrade(engine)  # idempotent
    assert current(engine) is not None
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
