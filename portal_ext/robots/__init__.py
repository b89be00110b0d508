"""Stage robots: tasks the extension creates when a lead or deal enters a stage."""
