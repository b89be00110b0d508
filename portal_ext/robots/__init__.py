"""Stage robots: tasks the extension creates when a lead or deal enters a stage, with
working-hour deadlines and the deadline guard's policy."""
