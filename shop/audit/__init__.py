"""The audit trail: every write in the back office, who made it, from where, and what
changed (`service.record`)."""
