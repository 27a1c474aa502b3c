"""Fault proofs (issue 4): concurrent counting on the parent job, and scripted real runs that
are killed, cancelled, cut off from their database, out of space or fed bad data.

Each fault test drives the real `protea-pipelines export` command (or a re-execution through
dg.execute_job) in its own process, and asserts the parent job's final state, its events and
the files on disk.
"""
