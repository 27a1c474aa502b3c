"""Parent jobs and their event timeline: the rows a person follows an export by."""
