"""Loading the sample catalogue from ``seed_data/``: taxonomy, organisations, entries, and the
reuse between them (copies, adoptions, later revisions, requests to borrow).

Everything is read and checked before anything is written (``reading.py``): one bad file
rejects the whole run with its path, field and reason. Loading (``loading.py``) is idempotent:
what already exists (by slug) is left exactly as it is, so a second run changes nothing.
``reuse.py`` reads and loads the copies and ``borrowing.yaml`` through the borrowing service.
"""

from kb.seeding.loading import SeedReport, load_catalogue, load_taxonomy
from kb.seeding.reading import Problem, SeedError, read_catalogue, read_taxonomy

__all__ = [
    "Problem",
    "SeedError",
    "SeedReport",
    "load_catalogue",
    "load_taxonomy",
    "read_catalogue",
    "read_taxonomy",
]
