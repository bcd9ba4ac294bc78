"""Schemathesis hooks for vigie's API tests: long polls answer at once.

A long poll (`after` on /api/v1/status, /api/v1/alerts, /api/v1/outbox, /api/v1/events)
waits up to `wait` seconds (30 by default) for a change that a fuzzing run never makes;
`wait=0` keeps each request short without leaving the parameter untested.
"""

import schemathesis


@schemathesis.hook
def map_query(ctx, query):
    if isinstance(query, dict) and "after" in query:
        query["wait"] = 0
    return query
