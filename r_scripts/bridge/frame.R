# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- building newdata --------------------------------------------------------

# The Python side sends plain vectors (levels and tzone already set) and the
# class of each; class<- here sets R's object bit, which rpy2 cannot.
bridge_frame <- function(cols, classes, n) {
  for (i in seq_along(cols)) {
    if (!is.null(classes[[i]])) class(cols[[i]]) <- classes[[i]]
  }
  structure(cols, row.names = c(NA_integer_, -n), class = "data.frame")
}
