"""The public side of the hub: what a passer-by who scans a notice's QR may see (no login).

- facts.py     pure: the public facts of one notice from stored values (its registration,
               camera states, counts by day in the venue's zone), as DTPR-style JSON and
               OpenStreetMap tags; nothing about any person, no time finer than a day
- request.py   pure: the "was I filmed?" form checked and bounded (never echoed)
- limit.py     token buckets per source address (bounded map) and global
The store side is hub/store/public.py, the routes hub/web/routes/public.py.
"""
