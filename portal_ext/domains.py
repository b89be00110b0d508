"""The extension's domains, in one list: what the app loads for each, found by convention.

A *domain* is a package under ``portal_ext`` holding one area of the product's behaviour, with
tables of its own and work of its own. Today they are:

- ``directory``: the portal's people and departments as the extension keeps them, and who may
  see whom (``directory.access``);
- ``absences``: absences, deputies and who covers for whom;
- ``notifications``: copies of portal notifications to deputies and teams;
- ``handover``: handing an absent user's client base to their deputy and back;
- ``transfers``: a dismissed user's client base to successors, and the automatic mode;
- ``deadlines``: the task deadline guard (policies, the on-site veto, requests, the audit).
- ``distribution``: a visited lead's deals, one manager per needed department.
- ``cadence``: the A/B/C contact cadence: which clients nobody has called or written to in time.
- ``robots``: stage robots: a task with a working-time deadline when a lead or deal enters a
  stage, once per entry.

Not domains (the ground they stand on): ``portal`` (the portal port: client, clock, the
registered portal), ``auth`` (login, roles, API tokens), ``events`` (intake and processing of
portal events, the handler registry), ``jobs`` and ``blueprints`` (the web layer).

Every domain package has the same files, each found by its name:

=============  ===========================================================================
``models``     its tables (imported so the metadata and Alembic see them)
``rules``      pure decisions: no database, no portal, no clock of their own; the module
               docstring walks through a worked example
``services``   what the pages, the API, jobs and handlers call: reads, writes, commits
``handlers``   its reactions to portal events (``portal_ext.events.handlers``); imported
               even when it registers nothing
``tasks``      its jobs, each under a pinned name (``portal_ext.jobs``)
``errors``     the refusals it raises
``report``     what it reports, where it reports something (handover, transfers)
=============  ===========================================================================

and may have pages: a package of ``portal_ext.blueprints`` with a ``bp`` (``Domain.web``).
Blueprints only render: they call services and rules, and no domain imports them.

Adding a domain is one line here, plus its package with the files above (tests/test_layering.py
checks both).
"""

from __future__ import annotations

from dataclasses import dataclass

# The files every domain package has (``report`` only where it reports: not checked).
FILE_SET: tuple[str, ...] = ("models", "rules", "services", "handlers", "tasks", "errors")


@dataclass(frozen=True)
class Domain:
    name: str  # the package: portal_ext.<name>
    web: str | None = None  # its pages, if any: portal_ext.blueprints.<web> (exposes ``bp``)

    @property
    def package(self) -> str:
        return f"portal_ext.{self.name}"

    def module(self, part: str) -> str:
        """The dotted name of one of its files (``models``, ``tasks``, ``handlers``...)."""
        return f"{self.package}.{part}"

    @property
    def blueprint_module(self) -> str | None:
        return f"portal_ext.blueprints.{self.web}" if self.web else None


# In dependency order: a domain may use the ones above it (the directory is everyone's).
DOMAINS: tuple[Domain, ...] = (
    Domain("directory"),  # its pages (the users list) are the dashboard's
    Domain("absences", web="absences"),
    Domain("notifications", web="notifications"),
    Domain("handover", web="handover"),
    Domain("transfers", web="transfers"),
    Domain("deadlines", web="deadlines"),
    Domain("distribution", web="distribution"),
    Domain("cadence", web="cadence"),
    Domain("robots", web="robots"),
)


def modules(part: str) -> tuple[str, ...]:
    """``part`` (``models``, ``tasks``, ``handlers``) of every domain, in manifest order."""
    return tuple(domain.module(part) for domain in DOMAINS)
