"""Anonymous call journeys: the events a call's steps make, their store, and the figures.

Owns the event vocabulary (`events`), the store that appends events off the request path and
purges them (`store`, SQLAlchemy), the figures (`report`) and their SVG charts (`charts`).

May import: `ivr.flow`, and the shared `ivr.db`; never `ivr.line`, `ivr.admin`, `ivr.cli`.
"""
