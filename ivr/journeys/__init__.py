"""Anonymous call journeys: the events a call's steps make, their store, and the figures.

Owns the event vocabulary and the dates an event can have (`events`), the stored row and the
order a call's events keep (`rows`), the store that appends events off the request path and
purges them (`store`), their tables and statements (`tables`, SQLAlchemy, loaded by the store
only when it first writes), the count of events it loses (`losses`), the figures
(`report`, with their types in `model` and their text and CSV in `formats`) and their SVG
charts (`charts`).

May import: `ivr.flow`, and the shared `ivr.db`; never `ivr.line`, `ivr.admin`, `ivr.cli`.
"""
