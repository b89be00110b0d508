"""Stage robots: tasks created on an item's stage, with working-hour deadlines and a guard."""
