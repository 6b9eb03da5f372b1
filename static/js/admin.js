/* The back office's few keyboard and focus helpers on top of htmx. Everything here only
   makes faster what works without it. */
