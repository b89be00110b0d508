"""Dismissal transfers: a dismissed employee's whole client base goes to successors (one
person, the department head, spread by load, or per type), with a report and an undo; and the
automatic change of responsible for companies and their contacts (seeds 002 and 004)."""
