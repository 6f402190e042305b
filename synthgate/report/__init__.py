"""Human-facing reports of a stored audit: one self-contained HTML file (see `html.py`)."""
