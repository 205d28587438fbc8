"""The latency budget (issue 22): where one request's time goes, each stage
timed in the process where it runs. `python -m bench budget`."""
