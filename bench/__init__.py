"""Benchmark of the bridge against Plumber on the same model (issue 3).

`python -m bench` runs every case and writes bench/RESULTS.md;
`python -m bench profile` samples a loaded bridge with py-spy into bench/out/.
"""
