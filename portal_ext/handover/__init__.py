"""Handing a client base over (absences) and the move engine it shares with transfers."""
