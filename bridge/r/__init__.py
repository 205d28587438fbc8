"""Everything that embeds R, and the only importers of rpy2
(tests/test_layout.py). Only R worker processes import this package, and
the processes that run a model file in their own R: the Python API's
load_model and `bridge inspect | predict | forecast` given a file. The HTTP
front never does.

Importing it makes R start clean before rpy2 is imported: rpy2 runs
`Rscript` at import time to find R's library path, and an Rscript (like the
embedded R, which rsession starts with --vanilla) would otherwise source
.Rprofile from the working directory or $HOME and .Renviron files — code
that no lock file approved.
"""

import os

for _name in ("R_PROFILE_USER", "R_ENVIRON_USER", "R_PROFILE"):
    os.environ[_name] = os.devnull

import logging as _logging

_logging.getLogger("rpy2").setLevel(_logging.WARNING)  # its start-up chatter
