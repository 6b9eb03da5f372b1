"""Mail: composed into the outbox with the change that causes it, sent by the worker."""
