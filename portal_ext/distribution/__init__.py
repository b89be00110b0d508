"""Lead distribution after a site visit: service lines, picking managers, visit reports."""
