"""The verification pipeline: task -> candidates -> checks -> select -> repair -> Result."""
