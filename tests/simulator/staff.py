"""A small company for simulator tests: the administrator, a sales department with its head and
two sellers, and an accountant elsewhere. Written straight into the tables (no events), the way
a seed would."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from simulator import Simulator
from simulator.users import tables as users_tables

ADMIN, HEAD, SELLER, SELLER2, ACCOUNTANT = 1, 2, 3, 4, 5
COMPANY, SALES, ACCOUNTING = 1, 2, 3


def add_staff(sim: Simulator) -> None:
    with sim.transaction() as ctx:
        conn = ctx.conn
        for dept_id, name, parent, head in ((COMPANY, "Company", None, ADMIN),
                                            (SALES, "Sales", COMPANY, HEAD),
                                            (ACCOUNTING, "Accounting", COMPANY, None)):
            conn.execute(users_tables.departments.insert().values(id=dept_id, name=name, sort=500,
                                                                  parent=parent, head=head))
        for user_id, name, last, email, dept, admin in (
                (ADMIN, "Anna", "Admin", "admin@demo.test", COMPANY, True),
                (HEAD, "Helen", "Head", "helen@demo.test", SALES, False),
                (SELLER, "Sam", "Seller", "sam@demo.test", SALES, False),
                (SELLER2, "Sofia", "Seller", "sofia@demo.test", SALES, False),
                (ACCOUNTANT, "Olga", "Ledger", "olga@demo.test", ACCOUNTING, False)):
            conn.execute(users_tables.users.insert().values(
                id=user_id, name=name, last_name=last, email=email, departments=[dept],
                is_admin=admin, active=True, date_register=datetime(2026, 1, 12, 6, 0),
                work_position="", fields={}))
        if conn.dialect.name == "postgresql":
            # Explicit ids leave PostgreSQL's sequences behind; later inserts must not collide.
            for table in ("sim_user", "sim_department"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    sim.apply_webhook_token()
